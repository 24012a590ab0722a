"""`taugepa rescore`: recompute the verdicts of recorded tau-bench or tau2 runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from taugepa.episode.options import HARNESS_OPTIONS
from taugepa.options import add_arguments, pick


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rescore",
        help="recompute the verdicts of recorded tau-bench/tau2 runs and write a scores file",
        description="Replay the recorded messages of tau-bench's run.py results (or a tau2 results "
        "file) through taugepa's engine and scoring, print the agreement with the recorded rewards "
        "and every disagreement with its reason, and write a taugepa scores file.",
    )
    parser.add_argument("results", metavar="RESULTS.json", help="tau-bench or tau2 results file")
    parser.add_argument(
        "--tasks",
        required=True,
        metavar="SPEC",
        help="the task file the runs used (tau-bench's task_id is the index in it), or tau2-airline",
    )
    parser.add_argument(
        "--scores-out", required=True, metavar="SCORES.json", help="where to write the scores file"
    )
    add_arguments(parser, pick(HARNESS_OPTIONS, "think_tool"))
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any verdict disagrees with the record"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.errors import ConfigError
    from taugepa.files import write_json_atomically
    from taugepa.guards.output_paths import check_output_file
    from taugepa.results.passk import describe_pass_k
    from taugepa.results.rescore import load_recorded_runs, rescore
    from taugepa.results.scores import build_scores, run_info
    from taugepa.tasks.loading import load_tasks

    check_output_file(Path(args.scores_out), "--scores-out")
    source_format, runs = load_recorded_runs(args.results)
    if not runs:
        raise ConfigError(f"{args.results} contains no recorded runs")
    collection = load_tasks([args.tasks])
    result = rescore(
        runs,
        collection.tasks,
        source_format=source_format,
        where=args.results,
        think_tool=args.think_tool is not False,
    )
    prompts = result.system_prompts
    trials = len({entry["trial"] for entry in result.entries})
    run_section = run_info(
        wiki_path=f"{args.results} (recorded system prompt)",
        wiki_text=prompts[0] if len(prompts) == 1 else "\n\n".join(prompts),
        agent="replay",
        trials=trials,
        max_steps=None,  # the recorded runs' limit, not ours
        think_tool=args.think_tool is not False,
        task_sources=collection.sources,
        extra={
            "rescored_from": {
                "path": str(Path(args.results)),
                "format": source_format,
                "runs": len(runs),
                "distinct_system_prompts": len(prompts),
            }
        },
    )
    scores = build_scores(run_section, result.entries)
    write_json_atomically(Path(args.scores_out), scores)
    for line in report_lines(result, scores["summary"], args.results, source_format, args.scores_out):
        print(line)
    print(describe_pass_k(scores["summary"]["pass_k"]))
    return 1 if args.strict and result.disagreements else 0


def report_lines(
    result: Any, summary: dict[str, Any], results_path: str, source_format: str, scores_out: str
) -> list[str]:
    counts = summary["counts"]
    total = len(result.agreements)
    agreeing = total - len(result.disagreements)
    scored = counts["passed"] + counts["failed"]
    lines = [
        f"rescored {total} recorded runs of {summary['tasks']} tasks from {results_path} ({source_format})",
        f"agreement with recorded rewards: {agreeing}/{total}",
        f"recorded pass rate: {result.recorded_passes}/{total}",
        f"rescored pass rate: {counts['passed']}/{scored}"
        f" · {counts['invalid']} invalid · {counts['error']} errors (not counted)",
    ]
    if result.disagreements:
        lines.append(f"disagreements ({len(result.disagreements)}):")
        lines.extend(f"  {a.task_id}#{a.trial}: {a.reason}" for a in result.disagreements)
    else:
        lines.append("disagreements: none")
    lines.append(f"scores file: {scores_out}")
    return lines
