"""`taugepa report`: one standalone HTML page for one or more scores files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a standalone HTML report of one or more scores files",
        description="Summary, failure causes (grouped, two example cases each; also printed), charts "
        "(by group, by gold action, pass^k), a per-task comparison of "
        "several files, and every task's outcome, feedback and transcript, in one HTML file that "
        "loads nothing from a network.",
    )
    parser.add_argument(
        "scores",
        nargs="+",
        metavar="SCORES.json",
        help="scores files written by pytest --scores-out or taugepa rescore; LABEL=PATH names one",
    )
    parser.add_argument("--out", required=True, metavar="REPORT.html", help="where to write the report")
    parser.add_argument("--title", default=None, help="the page title (default: taugepa report)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.guards.output_paths import check_output_file
    from taugepa.results.protocols import protocol_difference
    from taugepa.results.report import headline, write_report
    from taugepa.results.report_causes import cause_lines

    out = Path(args.out)
    check_output_file(out, "--out")
    runs = write_report(args.scores, out, args.title)
    labels = ", ".join(run.label for run in runs)
    print(f"report of {len(runs)} scores file(s) ({labels}) written to {out}")
    difference = protocol_difference([(run.label, run.scores.run) for run in runs])
    if difference:
        print(f"note: {difference}: their pass rates are not comparable")
    for report_run in runs:
        print(headline(report_run))
    for report_run in runs:
        for line in cause_lines(report_run.label, report_run.scores.episodes):
            print(line)
    return 0
