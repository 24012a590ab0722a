"""`taugepa audit`: check tasks' gold actions against the airline policy, write an audit file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from taugepa.episode.options import HARNESS_OPTIONS, TASK_OPTIONS
from taugepa.options import add_arguments, pick

FAIL_LEVELS = ("definite", "possible", "defect")
DEFAULT_OUT = "taugepa-audit.json"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit tasks against the airline policy: replay each gold and list what breaks the policy",
        description="Replay each task's gold actions on a fresh database, check every write against the "
        "policy rules and the instruction against the gold, and write a JSON audit file (per task and "
        "finding), a Markdown summary and a terminal summary.",
    )
    (tasks,) = pick(TASK_OPTIONS, "tasks")
    (wiki,) = pick(HARNESS_OPTIONS, "wiki")
    add_arguments(
        parser,
        [tasks, wiki.variant(help="the policy the tasks should follow (default: tau2's airline policy)")],
    )
    parser.add_argument(
        "--out",
        metavar="AUDIT.json",
        default=DEFAULT_OUT,
        help=f"where to write the audit file (default {DEFAULT_OUT} in the current directory)",
    )
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        help="where to write the Markdown summary (default: the audit file with .md)",
    )
    parser.add_argument(
        "--examples", type=int, default=1, metavar="N", help="examples per rule in the terminal (default 1)"
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_LEVELS,
        help="exit with status 1 if any task has a finding this severe (definite < possible < defect "
        "in what they include: 'possible' also fails on definite, 'defect' on all three)",
    )
    parser.add_argument(
        "--list-rules", action="store_true", help="print the rules with their policy sentences and exit"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.guards.limits import EXAMPLES, check_range
    from taugepa.guards.output_paths import check_output_file
    from taugepa.rules.audit import audit_tasks
    from taugepa.rules.audit_report import markdown, rules_lines, terminal_lines
    from taugepa.tasks.loading import load_tasks
    from taugepa.world.policy import load_policy

    policy = load_policy(args.wiki)
    if args.list_rules:
        print("\n".join(rules_lines(policy)))
        return 0
    check_range("--examples", args.examples, 0, EXAMPLES)
    out = Path(args.out)
    check_output_file(out, "--out")
    md_path = Path(args.markdown) if args.markdown else out.with_suffix(".md")
    check_output_file(md_path, "--markdown")
    collection = load_tasks(args.tasks or [])
    report = audit_tasks(collection.tasks, policy, sources=collection.sources)
    report.write(out)
    from taugepa.files import write_text_atomically

    write_text_atomically(md_path, markdown(report, policy))
    for line in terminal_lines(report, examples=args.examples, where=str(out)):
        print(line)
    print(f"markdown summary: {md_path}")
    if args.fail_on:
        levels = FAIL_LEVELS[: FAIL_LEVELS.index(args.fail_on) + 1]
        failing = [a.task_id for a in report.tasks if any(f.severity in levels for f in a.findings)]
        if failing:
            print(
                f"taugepa audit: {len(failing)} task(s) have {'/'.join(levels)} findings (--fail-on "
                f"{args.fail_on})"
            )
            return 1
    return 0
