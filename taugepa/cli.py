"""The `taugepa` command: subcommands around the benchmark (tasks, and more as they land).

Every subcommand reports bad input as one line on stderr and exits non-zero; tracebacks
are kept for bugs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from taugepa import __version__
from taugepa.errors import TaugepaError

Command = Callable[[argparse.Namespace], int]


def _tasks_command(args: argparse.Namespace) -> int:
    """List the tasks a --tasks spec selects, with their gold validity."""
    from taugepa.gold import default_gold_cache
    from taugepa.tasks import builtin_task_sets, load_tasks

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taugepa",
        description="Benchmark and optimize the policy wiki of a tool-calling airline agent. "
        "Run the benchmark itself with: pytest benchmarks --help",
    )
    parser.add_argument("--version", action="version", version=f"taugepa {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tasks = commands.add_parser("tasks", help="list built-in task sets, or the tasks of --tasks specs")
    tasks.add_argument(
        "--tasks",
        action="append",
        default=[],
        metavar="SPEC",
        help="task file, glob or built-in set (repeatable)",
    )
    tasks.set_defaults(handler=_tasks_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except TaugepaError as exc:
        print(f"taugepa: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
