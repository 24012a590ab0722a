"""`taugepa compare BASELINE.json CANDIDATE.json`: is the candidate wiki really better?

Or give two wikis and a task set, and both are run first (the same harness as the
benchmark; their scores files are written to --out-dir):
`taugepa compare --wiki seed.md --wiki best.md --tasks taugepa-airline --agent-model ...`

Better means passing more without breaking the policy more: the pass rate and the share of
episodes with no definite policy violation each get a paired test, and the verdict states the
trade ("pass rate +12.0 points (p = ...), compliance -54.0 points (p = ...): not better").

Exit status: 0 unless the candidate is significantly worse (1: a lower pass rate, or a lower
compliance without a higher pass rate); with --require-better, 1 unless it is better (pass
rate significantly higher and compliance not significantly lower; --pass-rate-only judges
the pass rate alone, as compare did before); 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from taugepa.episode.options import HARNESS_OPTIONS, TASK_OPTIONS
from taugepa.llm.settings import add_llm_arguments
from taugepa.options import LIST, add_arguments, pick

SIGNIFICANTLY_WORSE = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of two scores files: pass rates with 95%% CIs, a paired test, flips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scores",
        nargs="*",
        metavar="SCORES.json",
        help="scores files of the baseline and the candidate run (in that order)",
    )
    (wiki,) = pick(HARNESS_OPTIONS, "wiki")
    add_arguments(
        parser,
        [
            wiki.variant(
                kind=LIST, help="instead of scores files: the baseline and the candidate wiki (give twice)"
            )
        ],
    )
    add_arguments(
        parser.add_argument_group("with --wiki: the benchmark runs"),
        [
            *pick(TASK_OPTIONS, "tasks"),
            *pick(
                HARNESS_OPTIONS, "agent", "protocol", "tool_descriptions", "trials", "max_steps", "think_tool"
            ),
        ],
    )
    parser.add_argument(
        "--out-dir",
        default="taugepa-compare",
        help="with --wiki: where the two scores files go (default ./taugepa-compare)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument(
        "--require-better",
        action="store_true",
        help="exit 1 unless the candidate is better: a significantly higher pass rate and a compliance "
        "not significantly lower (default: only if significantly worse)",
    )
    parser.add_argument(
        "--pass-rate-only",
        action="store_true",
        help="judge the pass rate alone, ignoring policy compliance (compare's meaning before 0.x)",
    )
    parser.add_argument("--json", dest="json_out", metavar="PATH", help="also write the comparison as JSON")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the bootstrap and permutation resampling (and, with --wiki, of the models)",
    )
    add_llm_arguments(parser, exclude=("seed",))
    parser.set_defaults(handler=run)


def _run_both(args: argparse.Namespace) -> tuple[Any, Any]:
    """Run the benchmark with each wiki; return the two loaded scores files."""
    from taugepa.episode.options import resolve_harness, resolve_tasks
    from taugepa.episode.runner import run_tasks
    from taugepa.errors import ConfigError, Interrupted
    from taugepa.files import write_json_atomically
    from taugepa.guards.output_paths import check_output_dir
    from taugepa.options import args_lookup
    from taugepa.results.benchmark_run import run_scores
    from taugepa.results.scores import load_scores
    from taugepa.tasks.loading import load_tasks
    from taugepa.world.policy import read_wiki

    if len(args.wiki) != 2:
        raise ConfigError("give two scores files, or --wiki twice (baseline, then candidate) with --tasks")
    check_output_dir(Path(args.out_dir), "--out-dir")
    lookup = args_lookup(args)
    harness = resolve_harness(lookup)  # --seed is also the models' seed
    wikis = [(path, read_wiki(Path(path))) for path in args.wiki]
    collection = load_tasks(resolve_tasks(lookup).specs)
    loaded = []
    for label, (path, text) in zip(("baseline", "candidate"), wikis, strict=True):
        out = Path(args.out_dir) / f"{label}.json"
        print(f"running {len(collection.tasks)} tasks x {harness.trials} trials with {path} -> {out}")
        run = run_tasks(collection.tasks, text, harness)
        scores = run_scores(run, harness, collection.sources, text, path)
        write_json_atomically(out, scores)
        stopped = scores.get("interrupted")
        if stopped:
            raise Interrupted(
                f"while running the {label} ({stopped['episodes_done']} of {stopped['episodes_planned']} "
                f"episodes finished; {out} holds them, marked interrupted); nothing was compared"
            )
        loaded.append(load_scores(out))
    return loaded[0], loaded[1]


def run(args: argparse.Namespace) -> int:
    from taugepa.errors import ConfigError
    from taugepa.files import write_json_atomically
    from taugepa.guards.limits import SEED, check_range
    from taugepa.guards.output_paths import check_output_file
    from taugepa.results.compare import compare_scores, comparison_lines
    from taugepa.results.scores import load_scores

    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {args.alpha}")
    check_range("--seed", args.seed, 0, SEED)  # numpy's generators take seeds from 0 to 2**63 - 1
    if args.json_out:
        check_output_file(Path(args.json_out), "--json")
    if args.wiki:
        if args.scores:
            raise ConfigError("give either two scores files or two --wiki files, not both")
        baseline, candidate = _run_both(args)
    elif len(args.scores) == 2:
        baseline, candidate = load_scores(args.scores[0]), load_scores(args.scores[1])
    else:
        raise ConfigError("give two scores files (baseline, candidate), or --wiki twice with --tasks")
    for scores in (baseline, candidate):
        if scores.partial:
            print(f"note: {scores.path} is {scores.partial}")
    comparison = compare_scores(baseline, candidate, args.alpha, args.seed)
    for line in comparison_lines(comparison):
        print(line)
    if args.json_out:
        write_json_atomically(Path(args.json_out), json.loads(json.dumps(comparison.to_dict())))
    code, reason = exit_decision(comparison, args.require_better, args.pass_rate_only)
    print(f"{'PASS' if code == 0 else 'FAIL'} (exit status {code}): {reason}")  # the last line: the answer
    return code


def exit_decision(comparison: Any, require_better: bool, pass_rate_only: bool = False) -> tuple[int, str]:
    """The exit status and the reason for it, in words."""
    c = comparison
    test = f"difference {c.delta:+.1%}, {c.test} p = {c.p_value:.4g}"
    kept = _compliance_clause(c)
    if pass_rate_only:
        verdict, kept = c.pass_rate_verdict, "policy compliance not judged (--pass-rate-only)"
    else:
        verdict = c.verdict
    if verdict == "worse" and c.pass_rate_verdict == "worse":
        return SIGNIFICANTLY_WORSE, f"the candidate is significantly worse ({test} < alpha {c.alpha:g})"
    if verdict == "worse":
        return SIGNIFICANTLY_WORSE, (
            f"the candidate breaks the policy significantly more ({kept}) without passing "
            f"significantly more ({test}, alpha {c.alpha:g})"
        )
    if verdict == "better":
        return 0, f"the candidate is significantly better ({test} < alpha {c.alpha:g}); {kept}"
    if verdict == "not better":
        trade = f"its pass rate rose ({test}) but it breaks the policy significantly more ({kept})"
        if require_better:
            return SIGNIFICANTLY_WORSE, (
                f"--require-better: the candidate is not better: {trade}; --pass-rate-only judges the pass "
                "rate alone"
            )
        return 0, f"the candidate is not better: {trade}; --require-better would fail it"
    if require_better:
        return SIGNIFICANTLY_WORSE, (
            f"--require-better: the candidate is not significantly better ({test}, alpha {c.alpha:g})"
        )
    return 0, (
        f"the candidate is not significantly worse ({test}, alpha {c.alpha:g}); "
        "--require-better would ask for a significant improvement"
    )


def _compliance_clause(comparison: Any) -> str:
    c = comparison.compliance
    if c is None:
        return "compliance not recorded in both runs"
    worse = "significantly lower" if comparison.compliance_verdict == "worse" else "not significantly lower"
    return f"compliance {c.candidate:.1%} vs {c.baseline:.1%}, {worse}, {c.test} p = {c.p_value:.4g}"
