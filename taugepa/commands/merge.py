"""`taugepa merge`: one scores file from the scores files of a run's shards (`pytest --shard K/N`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge the scores files of a run's shards (pytest --shard K/N) into one",
        description="Join the scores files of the shards of one run (pytest --shard 1/N ... N/N, on "
        "several machines or CI jobs) into the scores file the run would have written in one process: "
        "the episodes in the run's order and the summary over all of them. Files from different "
        "wikis, protocols, task sets, settings or versions, a shard given twice or missing, and "
        "interrupted shards are refused. Gate the result with taugepa gate.",
    )
    parser.add_argument("scores", nargs="+", metavar="SHARD.json", help="the shards' scores files")
    parser.add_argument("--out", required=True, metavar="ALL.json", help="where to write the merged file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.files import write_text_atomically
    from taugepa.guards.output_paths import check_output_file
    from taugepa.results.merge import merge_scores
    from taugepa.results.scores import scores_text
    from taugepa.results.verdict import counts_text, rate_text

    out = Path(args.out)
    check_output_file(out, "--out")
    document = merge_scores(args.scores)
    write_text_atomically(out, scores_text(document))
    summary = document["summary"]
    print(
        f"merged {len(document['merged_from'])} shards: {summary['episodes']} episodes on "
        f"{summary['tasks']} tasks, pass rate {rate_text(summary['pass_rate'])} {counts_text(summary)}"
    )
    print(f"scores file: {out}")
    return 0
