"""The transfer step (`--test-tasks SPEC`): does the best candidate beat the seed on held-out tasks?

Test tasks are never used for training or selection: a test set that shares a task with
the training or validation set *by content* (`Task.content_hash`, not the id) is refused
before anything is spent. After the search, the seed and the best candidate each run every
test task `--test-trials` times (the same harness and episode store as the search, so a
rerun of a killed run takes finished episodes from the store), and the run directory gets
the two scores files, their `taugepa compare` result as JSON and the comparison page
(`taugepa report` with both files). The verdict is printed with its 95% interval.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from taugepa.episode.fewshot import describe_fewshot
from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.optimize.components import ComponentSet
from taugepa.optimize.evaluators import EpisodeStore, InProcessEvaluator
from taugepa.optimize.fewshot_seed import BEST_FEWSHOT, SEED_FEWSHOT
from taugepa.optimize.settings import BEST_WIKI, TOOLS_OUTPUT, OptimizeSettings
from taugepa.results.benchmark_run import harness_scores
from taugepa.results.compare import compare_scores, comparison_lines
from taugepa.results.report import write_report
from taugepa.results.scores import load_scores
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Task, TaskSource
from taugepa.world.tool_descriptions import describe_tool_descriptions

SEED_SCORES = "transfer_seed.json"
BEST_SCORES = "transfer_best.json"
COMPARE_JSON = "transfer_compare.json"
REPORT_PAGE = "transfer_report.html"
TRANSFER_FILES = (SEED_SCORES, BEST_SCORES, COMPARE_JSON, REPORT_PAGE)


@dataclass(frozen=True)
class TestSet:
    specs: tuple[str, ...]
    tasks: list[Task]
    sources: list[TaskSource]


def load_test_set(specs: tuple[str, ...], used: list[Task]) -> TestSet:
    """The test tasks; ConfigError (one line) if any shares its content with a `used` task."""
    collection = load_tasks(specs)
    if not collection.tasks:
        raise ConfigError(f"--test-tasks {' '.join(specs)} holds no task")
    by_content = {task.content_hash: task.id for task in used}
    shared = [
        (task.id, by_content[task.content_hash])
        for task in collection.tasks
        if task.content_hash in by_content
    ]
    if shared:
        test_id, used_id = shared[0]
        raise ConfigError(
            f"--test-tasks shares {len(shared)} task(s) with the training and validation tasks by content "
            f"(e.g. test task {test_id} is {used_id}): test tasks must be held out from the search; "
            "pass a disjoint --test-tasks set (or other --tasks)"
        )
    return TestSet(tuple(specs), collection.tasks, collection.sources)


def plan_line(test: TestSet, trials: int) -> str:
    episodes = 2 * len(test.tasks) * trials
    return (
        f"transfer after the search: the seed and the best candidate on {len(test.tasks)} test tasks "
        f"({', '.join(test.specs)}; none shares its content with a training or validation task) x {trials} "
        f"trials = {episodes} episodes, not counted in the budget"
    )


def run_transfer(
    settings: OptimizeSettings,
    components: ComponentSet,
    candidates: list[dict[str, str]],
    best: int,
    test: TestSet,
    store: EpisodeStore,
    say: Any,
) -> dict[str, Any]:
    """Run the seed and the best candidate on the test tasks; write and print the comparison."""
    run_dir = settings.run_dir
    trials = settings.transfer_trials
    harness = settings.harness.replace(trials=trials)
    evaluator = InProcessEvaluator(harness, store=store)
    hits_before = store.hits
    say(
        f"transfer: the seed and the best candidate (#{best}) on {len(test.tasks)} test tasks "
        f"x {trials} trials ({2 * len(test.tasks) * trials} episodes; finished ones come from the "
        "run directory)"
    )
    paths = {}
    for label, index, wiki_path in (
        ("seed", 0, settings.seed_wiki_path),
        ("best", best, str(run_dir / BEST_WIKI)),
    ):
        candidate = candidates[index]
        started = time.time()
        wiki = components.wiki(candidate)
        descriptions = components.tool_descriptions(candidate)
        fewshot = components.fewshot(candidate)
        by_task = evaluator.run(test.tasks, wiki, descriptions, fewshot=fewshot)
        entries = [entry for task in test.tasks for entry in by_task[task.id]]
        extra: dict[str, Any] = {
            "optimize": {
                "run_dir": str(run_dir),
                "candidate": index,
                "components": components.describe(candidate),
            },
        }
        if descriptions is not None:
            where = str(run_dir / TOOLS_OUTPUT) if label == "best" else "tau2 (the seed)"
            extra["tool_descriptions"] = describe_tool_descriptions(descriptions, where)
        if fewshot is not None:
            where = str(run_dir / BEST_FEWSHOT) if label == "best" else str(run_dir / SEED_FEWSHOT)
            extra["fewshot"] = describe_fewshot(fewshot, where)
        scores = harness_scores(harness, entries, test.sources, wiki, wiki_path, started, extra=extra)
        paths[label] = run_dir / (SEED_SCORES if label == "seed" else BEST_SCORES)
        write_json_atomically(paths[label], scores)
    comparison = compare_scores(load_scores(paths["seed"]), load_scores(paths["best"]), seed=settings.seed)
    write_json_atomically(run_dir / COMPARE_JSON, json.loads(json.dumps(comparison.to_dict())))
    write_report(
        [f"seed={paths['seed']}", f"best #{best}={paths['best']}"],
        run_dir / REPORT_PAGE,
        title=f"taugepa optimize: seed vs best candidate #{best} on the test tasks",
    )
    lines = comparison_lines(comparison)
    say(f"transfer on {len(comparison.tasks)} scored test tasks (never used for training or selection):")
    # the two pass rates and the difference with their 95% intervals, then the compliance of both
    shown = lines[3:6] + [line for line in lines if line.startswith("compliance ")][:2]
    for line in shown:
        say(f"  {line.replace('baseline ', 'seed     ').replace('candidate', 'best     ')}")
    verdict = next(line for line in lines if line.startswith("verdict: "))
    reused = store.hits - hits_before
    say(
        f"transfer {verdict}; {evaluator.episodes_run} episodes run, {reused} reused from the run "
        f"directory; see {run_dir / REPORT_PAGE}"
    )
    return comparison.to_dict()
