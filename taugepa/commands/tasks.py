"""`taugepa tasks`: list built-in task sets, or the tasks a --tasks spec selects."""

from __future__ import annotations

import argparse
from typing import Any

from taugepa.episode.options import TASK_OPTIONS
from taugepa.options import add_arguments, pick


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tasks", help="list built-in task sets, or the tasks of --tasks specs with their ids"
    )
    add_arguments(parser, pick(TASK_OPTIONS, "tasks"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.tasks.gold import default_gold_cache
    from taugepa.tasks.loading import builtin_task_sets, load_tasks

    if not args.tasks:
        for name, description in builtin_task_sets().items():
            print(f"{name}\t{description}")
        return 0
    collection = load_tasks(args.tasks)
    cache = default_gold_cache()
    for task in collection.tasks:
        gold = cache.get(task)
        status = "valid" if gold.valid else f"INVALID: {gold.invalid_reason}"
        print(f"{task.id}\t{task.group}\t{','.join(task.action_names) or '-'}\t{status}")
    return 0
