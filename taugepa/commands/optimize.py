"""`taugepa optimize`: improve the wiki with GEPA, scoring candidates on the benchmark.

With --test-tasks, the seed and the best candidate are then run on held-out test tasks
and compared (files and page in --run-dir). Rerun the same command to resume an
interrupted run (it continues from --run-dir without paying again for finished episodes).
Exit status: 0 done, 1 the evaluation kept failing for reasons outside the agent (an
endpoint down), 2 bad input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from taugepa.episode.options import HARNESS_OPTIONS, TASK_OPTIONS
from taugepa.llm.settings import add_llm_arguments
from taugepa.optimize.proposals import DEFAULT_MAX_WIKI_CHARS
from taugepa.options import add_arguments, pick

DEFAULT_RUN_DIR = "taugepa-optimize"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "optimize",
        help="evolve the wiki with GEPA on a train/validation split of tasks, within a budget",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks, task_filter, audit = pick(TASK_OPTIONS, "tasks", "task_filter", "audit")
    wiki, agent, fewshot = pick(HARNESS_OPTIONS, "wiki", "agent", "fewshot")
    add_arguments(
        parser,
        [
            tasks,
            task_filter.variant(help="audit status of the tasks to use: clean (default), compliant or all"),
            audit.variant(help="an audit file (taugepa audit) instead of auditing against --wiki"),
            wiki.variant(help="the seed wiki (default: tau2's airline policy)"),
            agent.variant(
                help="who plays the agent; GEPA evolves the wiki it is given: llm (default), the name of "
                "an installed agent (entry point group taugepa.agents) or your own as "
                "package.module:factory (see docs/agents.md); oracle/null only exercise the plumbing"
            ),
            *pick(HARNESS_OPTIONS, "protocol", "trials", "max_steps", "think_tool"),
            fewshot.variant(
                help="demonstrations the agent sees after the wiki (JSON, see taugepa.episode.fewshot); "
                "with --components ...+fewshot, the seed of that component (training tasks only)"
            ),
        ],
    )
    parser.add_argument("--reflection-model", help="the model that proposes new wikis (GEPA's reflection)")
    parser.add_argument("--reflection-base-url", help="its endpoint (default: --base-url)")
    parser.add_argument("--reflection-api-key-env", help="variable holding its key (default: --api-key-env)")
    parser.add_argument(
        "--reflection-temperature",
        default="1.0",
        help="its sampling temperature (default 1.0; 'none': not sent)",
    )
    parser.add_argument(
        "--budget", type=int, required=True, help="episodes GEPA may spend (see the printed plan)"
    )
    parser.add_argument(
        "--minibatch-size", type=int, default=3, help="training tasks per iteration (default 3)"
    )
    parser.add_argument("--val-size", type=int, default=20, help="validation tasks (default 20)")
    parser.add_argument(
        "--max-wiki-chars",
        type=int,
        default=DEFAULT_MAX_WIKI_CHARS,
        help="longest wiki a proposal may be; the reflection prompt asks for it, longer proposals are "
        f"refused (default {DEFAULT_MAX_WIKI_CHARS:,})",
    )
    parser.add_argument("--train-size", type=int, help="training tasks (default: all the others)")
    parser.add_argument(
        "--seed", default="0", help="seed of the split, of GEPA and of the models' sampling (default 0)"
    )
    parser.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help=f"where state and outputs go; rerun to resume (default ./{DEFAULT_RUN_DIR})",
    )
    parser.add_argument(
        "--evaluate-with",
        default="process",
        choices=("process", "pytest"),
        help="score candidates in this process (default) or through pytest benchmarks",
    )
    parser.add_argument("--pytest-workers", type=int, default=0, help="with --evaluate-with pytest: -n N")
    parser.add_argument(
        "--benchmarks",
        help="with --evaluate-with pytest: the benchmark suite folder (default: the packaged suite)",
    )
    parser.add_argument(
        "--violation-penalty",
        type=float,
        default=1.0,
        help="the objective GEPA climbs: a task's score is pass minus this per definite policy violation "
        "(judged against the seed wiki), at least 0 (default 1: a pass that broke a rule counts as a "
        "failure; 0: the pass rate alone)",
    )
    parser.add_argument(
        "--selection",
        default="compliance-floor",
        help="which candidate is the best: compliance-floor (default: the highest validation pass rate "
        "among those whose compliance is not below the seed's), pass-rate (compliance ignored) or "
        "objective (GEPA's highest validation score)",
    )
    _add_search_arguments(parser)
    add_llm_arguments(parser, exclude=("seed",))
    parser.set_defaults(handler=run)


def _add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """What GEPA evolves and how it searches; the transfer step; tracking."""
    parser.add_argument(
        "--components",
        default="wiki",
        help="what GEPA evolves: wiki (default), sections (the wiki's # / ## sections, one at a time), "
        "wiki+tools or sections+tools (also each airline tool's description); +fewshot after any of "
        "them (wiki+fewshot, sections+tools+fewshot, ...) also evolves the worked examples shown after "
        "the wiki, seeded from passed training episodes",
    )
    parser.add_argument(
        "--fewshot-from",
        metavar="PATH",
        help="where the fewshot component's seed comes from: a scores file (e.g. a baseline run) or a "
        "folder of stored episodes; only passed episodes of training tasks are used (default: the run "
        "directory's own episodes)",
    )
    parser.add_argument(
        "--component-selector",
        default="round-robin",
        help="which component an iteration reflects on: round-robin (default), touched (the next one "
        "a failure of the minibatch concerns) or all",
    )
    parser.add_argument(
        "--curriculum",
        default="none",
        help="none (default) or easy-first: training minibatches from the easier groups first",
    )
    parser.add_argument(
        "--curriculum-threshold",
        type=float,
        default=1.0,
        help="easy-first moves on once the parent's minibatch score reaches this (default 1.0), "
        "or once a stage has spent its share of the budget",
    )
    parser.add_argument("--merge", action="store_true", help="also use GEPA's merge proposer")
    parser.add_argument(
        "--max-merges", type=int, default=5, help="with --merge: accepted merges at most (default 5)"
    )
    parser.add_argument(
        "--track", default="none", help="log to GEPA's experiment tracking: none (default), mlflow or wandb"
    )
    parser.add_argument(
        "--test-tasks",
        action="append",
        default=[],
        metavar="SPEC",
        help="held-out test tasks (repeatable): after the search, run the seed and the best candidate "
        "on them and compare (never used for training or selection)",
    )
    parser.add_argument("--test-trials", type=int, help="episodes per test task (default: --trials)")


def _positive(value: int | None, flag: str, limit: tuple[float, str]) -> None:
    from taugepa.guards.limits import check_range

    if value is not None:
        check_range(flag, value, 1, limit)


def _temperature(value: str) -> float | None:
    """--reflection-temperature: a number from 0 to 2, or 'none' (not sent)."""
    import math

    from taugepa.errors import ConfigError

    if str(value).strip().lower() == "none":
        return None
    try:
        temperature = float(value)
    except ValueError:
        message = f"--reflection-temperature expects a number or 'none', got {value[:40]!r}"
        raise ConfigError(message) from None
    if not (math.isfinite(temperature) and 0 <= temperature <= 2):
        raise ConfigError(f"--reflection-temperature must be between 0 and 2, got {value[:40]}")
    return temperature


def build_settings(args: argparse.Namespace) -> Any:
    from taugepa.episode.options import resolve_harness, resolve_tasks, resolve_wiki
    from taugepa.errors import ConfigError
    from taugepa.guards import limits
    from taugepa.guards.output_paths import check_output_dir
    from taugepa.optimize.components import COMPONENT_MODES, SELECTORS
    from taugepa.optimize.curriculum import CURRICULA
    from taugepa.optimize.reflection_model import ReflectionSettings
    from taugepa.optimize.selection import SELECTIONS
    from taugepa.optimize.settings import OptimizeSettings
    from taugepa.optimize.tracking import TRACKERS
    from taugepa.options import args_lookup, switch
    from taugepa.rules.compliance import objective_score

    if args.violation_penalty < 0:
        raise ConfigError(f"--violation-penalty must be 0 or more, got {args.violation_penalty:g}")
    for flag, value, limit in (
        ("--budget", args.budget, limits.BUDGET),
        ("--minibatch-size", args.minibatch_size, limits.MINIBATCH),
        ("--max-wiki-chars", args.max_wiki_chars, limits.WIKI_CHARS),
        ("--val-size", args.val_size, limits.SET_SIZE),
        ("--train-size", args.train_size, limits.SET_SIZE),
        ("--max-merges", args.max_merges, limits.MERGES),
        ("--test-trials", args.test_trials, limits.TRIALS),
    ):
        _positive(value, flag, limit)
    limits.check_range("--pytest-workers", args.pytest_workers, 0, limits.WORKERS)
    check_output_dir(Path(args.run_dir), "--run-dir")
    for flag, value, allowed in (
        ("--components", args.components, COMPONENT_MODES),
        ("--component-selector", args.component_selector, SELECTORS),
        ("--curriculum", args.curriculum, CURRICULA),
        ("--track", args.track, TRACKERS),
        ("--selection", args.selection, SELECTIONS),
    ):
        if value not in allowed:
            raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
    if not 0 < args.curriculum_threshold <= 1:
        raise ConfigError(
            f"--curriculum-threshold must be above 0 and at most 1, got {args.curriculum_threshold:g}"
        )
    try:
        seed = int(args.seed)
    except ValueError:
        raise ConfigError(f"--seed expects a whole number, got {str(args.seed)[:40]!r}") from None
    limits.check_range("--seed", seed, -limits.SEED[0] - 1, limits.SEED)
    if not args.reflection_model:
        raise ConfigError("pass --reflection-model NAME: the model that proposes new wikis (e.g. gpt-4o)")
    lookup = args_lookup(args)
    tasks = resolve_tasks(lookup, default_filter="clean", filters=("clean", "compliant", "all"))
    wiki_path, seed_wiki = resolve_wiki(lookup)
    if len(seed_wiki) > args.max_wiki_chars:
        raise ConfigError(
            f"the seed wiki {wiki_path} is {len(seed_wiki):,} characters, over --max-wiki-chars "
            f"{args.max_wiki_chars:,}: shorten it or raise --max-wiki-chars"
        )
    # a candidate is judged against the seed wiki's rules, so it cannot edit a rule away
    harness = resolve_harness(lookup).replace(compliance_policy=seed_wiki)
    llm = harness.llm
    temperature = _temperature(args.reflection_temperature)
    reflection = ReflectionSettings(
        model=args.reflection_model,
        base_url=args.reflection_base_url or (llm.base_url if llm else args.base_url),
        api_key_env=args.reflection_api_key_env
        or (llm.api_key_env if llm else args.api_key_env)
        or "OPENAI_API_KEY",
        temperature=temperature,
        seed=seed,
        cache=switch(args.use_llm_cache, default=True),
        cache_dir=llm.cache_dir if llm else None,
        prices=llm.prices if llm else (),
        rpm=llm.rpm if llm else None,
        tpm=llm.tpm if llm else None,
    )
    penalty = args.violation_penalty
    return OptimizeSettings(
        tasks=tasks,
        seed_wiki=seed_wiki,
        seed_wiki_path=str(wiki_path),
        harness=harness,
        reflection=reflection,
        budget=args.budget,
        run_dir=Path(args.run_dir),
        minibatch_size=args.minibatch_size,
        max_wiki_chars=args.max_wiki_chars,
        val_size=args.val_size,
        train_size=args.train_size,
        seed=seed,
        evaluate_with=args.evaluate_with,
        pytest_workers=args.pytest_workers,
        benchmarks_dir=Path(args.benchmarks) if args.benchmarks else None,
        objective=(lambda entry: objective_score(entry, penalty)) if penalty else None,
        objective_name=f"pass - {penalty:g} x definite violations" if penalty else "pass",
        selection=args.selection,
        components=args.components,
        component_selector=args.component_selector,
        curriculum=args.curriculum,
        curriculum_threshold=args.curriculum_threshold,
        merge=args.merge,
        max_merges=args.max_merges,
        track=args.track,
        fewshot_from=_fewshot_from(args.fewshot_from),
        test_specs=tuple(args.test_tasks),
        test_trials=args.test_trials,
    )


def _fewshot_from(value: str | None) -> Path | None:
    from taugepa.errors import ConfigError

    if value is None:
        return None
    path = Path(value)
    if not path.exists():
        raise ConfigError(
            f"--fewshot-from {value}: no such file or folder (pass a scores file or an episodes folder)"
        )
    return path


def run(args: argparse.Namespace) -> int:
    import sys

    from taugepa.errors import INTERRUPTED_EXIT_STATUS
    from taugepa.llm.client import prepare_clients
    from taugepa.optimize.run import run_optimize

    try:
        settings = build_settings(args)
        if settings.harness.llm is not None:
            prepare_clients(settings.harness.llm)
        run_optimize(settings)
    except KeyboardInterrupt:
        print(_interrupted_line(Path(args.run_dir)), file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    return 0


def _interrupted_line(run_dir: Path) -> str:
    episodes = run_dir / "episodes"
    kept = len(list(episodes.glob("*.json"))) if episodes.is_dir() else 0
    return (
        f"taugepa: interrupted: {kept} finished episodes are kept in {episodes}; "
        "rerun the same command to resume"
    )
