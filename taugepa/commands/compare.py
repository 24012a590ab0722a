"""`taugepa compare BASELINE.json CANDIDATE.json`: is the candidate wiki really better?

Exit status: 0 unless the candidate is significantly worse (1); with --require-better, 1
unless it is significantly better; 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SIGNIFICANTLY_WORSE = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of two scores files: pass rates with 95%% CIs, a paired test, flips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("baseline", help="scores file of the baseline run (e.g. the seed wiki)")
    parser.add_argument("candidate", help="scores file of the candidate run (e.g. the optimized wiki)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument(
        "--require-better",
        action="store_true",
        help="exit 1 unless the candidate is significantly better (default: only if significantly worse)",
    )
    parser.add_argument("--json", dest="json_out", metavar="PATH", help="also write the comparison as JSON")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the bootstrap and permutation resampling"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.compare import compare_scores, comparison_lines
    from taugepa.errors import ConfigError
    from taugepa.results import load_scores, write_json_atomically

    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {args.alpha}")
    comparison = compare_scores(
        load_scores(args.baseline), load_scores(args.candidate), args.alpha, args.seed
    )
    for line in comparison_lines(comparison):
        print(line)
    if args.json_out:
        write_json_atomically(Path(args.json_out), json.loads(json.dumps(comparison.to_dict())))
    if comparison.verdict == "worse":
        return SIGNIFICANTLY_WORSE
    if args.require_better and comparison.verdict != "better":
        return SIGNIFICANTLY_WORSE
    return 0
