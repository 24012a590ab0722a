"""`taugepa gate`: judge a scores file (a merged one, say) with the gates pytest has."""

from __future__ import annotations

import argparse
from typing import Any

from taugepa.options import add_arguments
from taugepa.results.gates import GATE_OPTIONS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="apply the gates (--min-pass-rate, --baseline ...) to a scores file",
        description="Print the verdict block pytest prints after a benchmark run, for a scores file "
        "(typically taugepa merge's file of a sharded run), and exit with the status pytest would "
        "have: 0 when every gate holds (or, with no gate, no episode failed), 1 when a gate fails "
        "(or, with no gate, an episode failed or ended in an error), 2 for an interrupted or "
        "--max-cost-stopped run.",
    )
    parser.add_argument("scores", metavar="SCORES.json", help="the scores file to judge")
    add_arguments(parser, GATE_OPTIONS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.options import args_lookup
    from taugepa.results.gates import resolve_gates
    from taugepa.results.scores import load_scores
    from taugepa.results.verdict import VERDICT_TITLE, judge_scores, separator, terminal_width, verdict_lines

    gates = resolve_gates(args_lookup(args))
    scores = load_scores(args.scores)
    if gates.baseline is not None:  # a baseline of another protocol is not a baseline
        from taugepa.results.protocols import require_same_protocol

        labelled = [(f"--baseline {gates.baseline.path}", gates.baseline.run), (args.scores, scores.run)]
        require_same_protocol(labelled, "--baseline")
    state = judge_scores(scores, gates)
    print(separator(VERDICT_TITLE, terminal_width()))
    for line in verdict_lines(state):
        print(line)
    return int(state.exit_status)
