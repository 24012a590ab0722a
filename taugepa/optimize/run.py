"""`taugepa optimize`: evolve the wiki with GEPA, the harness being the evaluator.

The run: load and audit the tasks (clean ones by default), split them into disjoint,
stratified training and validation sets, load the held-out test tasks if any, print the
split, the components, the curriculum and the rollout plan, refuse a budget that cannot
pay for one iteration (and any other bad input) before anything is spent, then let GEPA
propose candidates (reflection through the `openai` SDK) and score them on the harness,
and finally run the transfer step. Everything lives in the run directory: GEPA's own
state (`gepa/`, for resuming), the finished episodes (`episodes/`, so a resumed run never
pays for them twice), the split and the settings, and at the end the outputs (best wiki
and tool descriptions, all candidates with validation scores, GEPA's result, a plot, a
diff, the transfer files).

Budget accounting: GEPA counts one metric call per task evaluated; with `--trials k` a
metric call is k episodes, so the budget in episodes becomes `budget // k` metric calls.
GEPA checks the budget only at the top of an iteration, so a run can overshoot by at most
one iteration (`RolloutPlan.max_overshoot`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError, InfrastructureError
from taugepa.files import write_json_atomically
from taugepa.llm.usage import SIDES, usage_lines
from taugepa.optimize.adapter import WikiAdapter
from taugepa.optimize.components import ComponentSet, module_selector
from taugepa.optimize.curriculum import EasyFirstSampler
from taugepa.optimize.evaluators import (
    EpisodeStore,
    InProcessEvaluator,
    PytestEvaluator,
    default_benchmarks_dir,
    valid_tasks,
)
from taugepa.optimize.fewshot_seed import BEST_FEWSHOT, check_sources
from taugepa.optimize.fewshot_seed import seed_fewshot as seed_fewshot_for
from taugepa.optimize.outputs import run_cost, write_outputs
from taugepa.optimize.progress import ProgressLines
from taugepa.optimize.reflection_model import REFLECTION_SIDE, ReflectionModel
from taugepa.optimize.selection import ValidationLedger, select_best
from taugepa.optimize.settings import (
    OUTPUT_FILES,
    SETTINGS_FILE,
    TOOLS_OUTPUT,
    OptimizeOutcome,
    OptimizeSettings,
    RolloutPlan,
)
from taugepa.optimize.tracking import check_tracking, tracking_options
from taugepa.optimize.transfer import TRANSFER_FILES, TestSet, load_test_set, plan_line, run_transfer
from taugepa.rules.audit import audit_tasks, audits_for, gold_policy_note, load_audit
from taugepa.rules.audit import select_tasks as keep
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Task
from taugepa.tasks.split import Split, split_tasks
from taugepa.world.policy import Policy


def select_tasks(settings: OptimizeSettings, say: Callable[[str], None]) -> list[Task]:
    """The tasks to optimize on: valid ones, then those the task filter keeps (clean by default)."""

    selection = settings.tasks
    tasks = load_tasks(selection.specs).tasks
    tasks, invalid = valid_tasks(tasks)
    if invalid:
        say(f"left out {len(invalid)} invalid tasks (their gold cannot be replayed)")
    if selection.task_filter == "all":
        return tasks
    if selection.audit_path is not None:
        audits = audits_for(
            tasks, load_audit(selection.audit_path), where=f"audit file {selection.audit_path}"
        )
        source = str(selection.audit_path)
    else:
        policy = Policy.from_text(settings.seed_wiki, settings.seed_wiki_path)
        audits = audits_for(tasks, audit_tasks(tasks, policy))
        source = f"audited against {Path(settings.seed_wiki_path).name}"
    kept = keep(tasks, audits, selection.task_filter)
    say(f"task filter {selection.task_filter} ({source}): {len(kept)} of {len(tasks)} valid tasks kept")
    if len(kept) < 2:
        raise ConfigError(
            f"--task-filter {selection.task_filter} leaves {len(kept)} task(s): optimization needs training "
            "and validation tasks (use --task-filter compliant or all, or more --tasks)"
        )
    return kept


def _check_resume(settings: OptimizeSettings, split: Split) -> bool:
    """True if the run directory holds this run (resume); ConfigError if it holds another."""
    path = settings.run_dir / SETTINGS_FILE
    fingerprint = {
        **settings.fingerprint(),
        "train": [t.id for t in split.train],
        "val": [t.id for t in split.val],
    }
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(fingerprint)):
            raise ConfigError(
                f"{settings.run_dir} holds a run with other settings (tasks, wiki, models, split...): "
                "rerun the same command to resume it, or pass a new --run-dir"
            )
        return True
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, fingerprint)
    return False


def run_optimize(settings: OptimizeSettings, say: Callable[[str], None] = print) -> OptimizeOutcome:
    import gepa

    check_tracking(settings.track)
    ComponentSet.build(settings.components, settings.seed_wiki, settings.seed_wiki_path)  # checked first
    tasks = select_tasks(settings, say)
    split = split_tasks(tasks, settings.val_size, settings.seed, settings.train_size)
    seed_fewshot: tuple = ()
    if settings.components.endswith("+fewshot"):
        seed_fewshot = seed_fewshot_for(
            settings.run_dir,
            [t.id for t in split.train],
            given=settings.harness.fewshot,
            given_path=settings.harness.fewshot_path,
            source=settings.fewshot_from,
            say=say,
        )
    elif settings.harness.fewshot:  # fixed demonstrations must not show validation or test tasks either
        where = settings.harness.fewshot_path or "--fewshot"
        check_sources(settings.harness.fewshot, [t.id for t in split.train], where)
    components = ComponentSet.build(
        settings.components, settings.seed_wiki, settings.seed_wiki_path, seed_fewshot=seed_fewshot
    )
    selector = module_selector(settings.component_selector, components)
    test: TestSet | None = (
        load_test_set(settings.test_specs, [*split.train, *split.val]) if settings.test_specs else None
    )
    plan = RolloutPlan(
        settings.budget,
        settings.harness.trials,
        len(split.val),
        settings.minibatch_size,
        max_merges=settings.max_merges if settings.merge else 0,
    )
    sampler = None
    if settings.curriculum == "easy-first":
        sampler = EasyFirstSampler(
            split.train,
            settings.minibatch_size,
            max_metric_calls=plan.max_metric_calls,
            seed_metric_calls=len(split.val),
            threshold=settings.curriculum_threshold,
            seed=settings.seed,
            say=say,
        )
    say(f"split (seed {settings.seed}): {split.describe()}")
    if settings.objective is not None:
        say(f"objective: {settings.objective_name} (per task, mean over trials)")
    say(f"selection of the best: {SELECTION_TEXT.get(settings.selection, settings.selection)}")
    say(f"  validation: {', '.join(t.id for t in split.val)}")
    if components.mode != "wiki":
        say(components.summary(settings.component_selector))
    if sampler is not None:
        say(sampler.describe())
    for line in plan.lines():
        say(line)
    if test is not None:
        say(plan_line(test, settings.transfer_trials))
    plan.check()
    resumed = _check_resume(settings, split)
    write_json_atomically(
        settings.run_dir / "split.json",
        {"seed": settings.seed, "train": [t.id for t in split.train], "val": [t.id for t in split.val]},
    )
    write_json_atomically(
        settings.run_dir / "plan.json", {**asdict(plan), "max_overshoot": plan.max_overshoot}
    )

    store = EpisodeStore(settings.run_dir / "episodes", settings.harness)
    if store.disabled_reason:
        say(store.disabled_reason)
    ledger = ValidationLedger(settings.run_dir, [task.id for task in split.val])
    progress = ProgressLines(plan, say, several_components=len(components.names) > 1, ledger=ledger)
    if sampler is not None:
        progress.stage = lambda: sampler.current
    if settings.evaluate_with == "pytest":
        evaluator: InProcessEvaluator | PytestEvaluator = PytestEvaluator(
            settings.harness,
            settings.tasks.specs,
            settings.benchmarks_dir or default_benchmarks_dir(),
            workers=settings.pytest_workers,
            on_entry=progress.count_episode,
        )
    else:
        evaluator = InProcessEvaluator(settings.harness, store=store, on_entry=progress.count_episode)
    reflection = ReflectionModel(settings.reflection, settings.max_wiki_chars)
    progress.cost = lambda: _cost_text(evaluator, reflection)
    adapter = WikiAdapter(
        evaluator,
        components=components,
        record_notes=_gold_notes(settings, tasks),
        objective=settings.objective,
        persistent={"curriculum": sampler} if sampler is not None else None,
        ledger=ledger,
    )
    # gepa's StopperProtocol: a callable given the state
    stoppers: list[Any] = [lambda state: reflection.failure is not None]
    max_cost = settings.harness.max_cost
    if max_cost is not None:
        stoppers.append(lambda state: evaluator.cost_usd + reflection.cost_usd >= max_cost)
    if resumed:
        say(f"resuming the run in {settings.run_dir} ({store.count()} finished episodes on disk)")
    # gepa calls the hooks an object has (its callback protocols list them all)
    callbacks: list[Any] = [ledger, progress] if sampler is None else [ledger, progress, sampler]
    result = gepa.optimize(
        seed_candidate=components.seed_candidate(),
        trainset=split.train,
        valset=split.val,
        adapter=adapter,
        reflection_lm=reflection,
        reflection_prompt_template=components.reflection_templates(settings.max_wiki_chars),
        reflection_minibatch_size=None if sampler is not None else settings.minibatch_size,
        batch_sampler=sampler if sampler is not None else "epoch_shuffled",
        module_selector=selector,
        use_merge=settings.merge,
        max_merge_invocations=settings.max_merges,
        max_metric_calls=plan.max_metric_calls,
        stop_callbacks=stoppers,
        run_dir=str(settings.run_dir / "gepa"),
        logger=_FileLogger(settings.run_dir / "gepa_log.txt"),
        callbacks=callbacks,
        display_progress_bar=sys.stderr.isatty(),
        seed=settings.seed,
        raise_on_exception=True,
        cache_evaluation=False,
        skip_perfect_score=True,
        **tracking_options(settings.track, settings.run_dir),
    )
    if reflection.failure is not None:
        kind = ConfigError if isinstance(reflection.failure, ConfigError) else InfrastructureError
        raise kind(
            f"the reflection model failed, so the search stopped: {reflection.failure}; the finished "
            f"iterations are kept in {settings.run_dir} (rerun the same command to resume; with another "
            "reflection model or endpoint, pass a new --run-dir)"
        )
    scores = [float(score) for score in result.val_aggregate_scores]
    figures = ledger.by_index(list(result.candidates))
    chosen = select_best(settings.selection, scores, figures, int(result.best_idx))
    outcome = write_outputs(settings, components, result, plan, store, evaluator, reflection, chosen, figures)
    say("candidates on the validation set (compliance: episodes with no definite policy violation):")
    for line in outcome.table:
        say(f"  {line}")
    best_figures, seed_figures = figures.get(outcome.best_index), figures.get(0)
    say(
        f"best: candidate #{outcome.best_index}, {chosen.reason}: validation score {outcome.best_score:.3f}"
        + (f", {best_figures.describe()}" if best_figures else "")
        + f" vs seed {outcome.seed_score:.3f}"
        + (f", {seed_figures.describe()}" if seed_figures else "")
    )
    say(
        f"best validation score {outcome.best_score:.3f} (candidate #{outcome.best_index}) vs seed "
        f"{outcome.seed_score:.3f}; {outcome.candidates} candidates; {outcome.metric_calls * plan.trials} "
        f"episodes counted against the budget; {outcome.episodes_run} episodes run in this session, "
        f"{outcome.episodes_reused} reused from the run directory; {outcome.cost_text()}"
    )
    for line in usage_lines(run_cost(evaluator, reflection), sides=(*SIDES, REFLECTION_SIDE)):
        say(line)
    files = [*OUTPUT_FILES, *([TOOLS_OUTPUT] if components.seed_descriptions else [])]
    files += [BEST_FEWSHOT] if components.seed_fewshot is not None else []
    say(f"outputs in {settings.run_dir}: {', '.join(files)}")
    if test is not None:
        if max_cost is not None and evaluator.cost_usd + reflection.cost_usd >= max_cost:
            say(f"transfer not run: --max-cost ${max_cost:g} is spent; raise it and rerun to run it")
        else:
            outcome.transfer = run_transfer(
                settings, components, list(result.candidates), outcome.best_index, test, store, say
            )
            say(f"transfer files in {settings.run_dir}: {', '.join(TRANSFER_FILES)}")
    return outcome


SELECTION_TEXT = {
    "compliance-floor": "the highest validation pass rate among the candidates whose compliance is not "
    "below the seed's (--selection compliance-floor)",
    "pass-rate": "the highest validation pass rate, compliance ignored (--selection pass-rate)",
    "objective": "the highest validation score of the objective (--selection objective)",
}


def _cost_text(evaluator: InProcessEvaluator | PytestEvaluator, reflection: ReflectionModel) -> str:
    if not (evaluator.cost_known and reflection.cost_known):
        return "cost n/a (a model has no price)"
    return f"${evaluator.cost_usd + reflection.cost_usd:.4f}"


def _gold_notes(
    settings: OptimizeSettings, tasks: list[Task]
) -> Callable[[dict[str, Any]], list[str]] | None:
    """Notes for reflective records of tasks whose own gold breaks the policy (when not all clean)."""
    if settings.tasks.task_filter == "clean":
        return None

    audits = audit_tasks(tasks, Policy.from_text(settings.seed_wiki, settings.seed_wiki_path)).by_id()

    def notes(entry: dict[str, Any]) -> list[str]:
        note = gold_policy_note(audits.get(entry["task_id"]))
        return [note] if note else []

    return notes


class _FileLogger:
    """GEPA's log lines go to a file in the run directory; the terminal gets one line per iteration."""

    def __init__(self, path: Path):
        self.path = path

    def log(self, message: str) -> None:
        with self.path.open("a") as handle:
            handle.write(f"{message}\n")
