"""How a candidate is scored: its episodes, run in this process or through `pytest benchmarks`.

`InProcessEvaluator` runs each task of a batch through the same `run_episode` and scoring
the pytest plugin uses (on threads); `PytestEvaluator` runs an actual `pytest benchmarks`
subprocess and reads its scores file back. Both return scores-file entries per task.
Episodes that hit an infrastructure error are run again; if they keep failing, evaluation
raises instead of feeding GEPA zeros the agent did not earn.

Finished episodes are kept in an episode store (normally in the run directory), keyed by
everything that decides them (task content, wiki, tool descriptions, settings, trial,
engine), each as soon as it finishes, so a resumed optimization never pays for them twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.benchmarks import SUITE_DIR
from taugepa.episode.agent_player import AGENT_ERROR
from taugepa.episode.fewshot import Demonstrations, fewshot_sha256
from taugepa.episode.options import harness_arguments
from taugepa.episode.run import EpisodeResult
from taugepa.episode.runner import EpisodeJob, iter_jobs
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import InfrastructureError
from taugepa.files import write_json_atomically, write_text_atomically
from taugepa.llm.usage import SIDES, SideUsage
from taugepa.protocol import ERROR, OUTCOMES, PASSED
from taugepa.results.scores import episode_entry, load_scores, to_evaluation_batch
from taugepa.tasks.gold import default_gold_cache
from taugepa.tasks.model import Task
from taugepa.world.engine import engine_info
from taugepa.world.tool_descriptions import as_pairs, descriptions_sha256

# The tool descriptions a candidate gives the agent (None: tau2's own).
Descriptions = Mapping[str, str] | None


class EvaluationFailed(InfrastructureError):
    """Episodes kept failing for reasons outside the agent: the candidate cannot be scored."""


class EpisodeStore:
    """Finished, scored episodes on disk, keyed by task content, wiki, settings, trial, engine."""

    def __init__(self, directory: Path, settings: HarnessSettings):
        self.directory = Path(directory)
        # An agent that declares no name and version is never cached: nothing would tell its
        # episodes apart from those of a changed agent (see `disabled_reason`).
        self.enabled = settings.cacheable
        self.agent = settings.agent
        self._settings_key = json.dumps(settings.fingerprint(), sort_keys=True)
        self._engine = engine_info()["fingerprint"]  # reads and hashes the 7 MB database: once
        self.hits = 0
        self.stored = 0

    def key(
        self,
        task: Task,
        wiki: str,
        trial: int,
        tool_descriptions: Descriptions = None,
        fewshot: Demonstrations | None = None,
    ) -> str:
        parts: list[Any] = [
            task.content_hash,
            task.id,
            hashlib.sha256(wiki.encode()).hexdigest(),
            self._settings_key,
            trial,
            self._engine,
        ]
        if tool_descriptions:  # absent for tau2's descriptions: keys of earlier runs stay valid
            parts.append(descriptions_sha256(tool_descriptions))
        if fewshot:  # a candidate's demonstrations (absent without: earlier keys stay valid)
            parts.append(["fewshot", fewshot_sha256(fewshot)])
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def get(
        self,
        task: Task,
        wiki: str,
        trial: int,
        tool_descriptions: Descriptions = None,
        fewshot: Demonstrations | None = None,
    ) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        path = self.directory / f"{self.key(task, wiki, trial, tool_descriptions, fewshot)}.json"
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("outcome") not in OUTCOMES:
            return None  # damaged: run the episode again rather than hand GEPA a broken entry
        self.hits += 1
        return entry

    def put(
        self,
        task: Task,
        wiki: str,
        trial: int,
        entry: dict[str, Any],
        tool_descriptions: Descriptions = None,
        fewshot: Demonstrations | None = None,
    ) -> None:
        if not self.enabled:
            return
        key = self.key(task, wiki, trial, tool_descriptions, fewshot)
        write_json_atomically(self.directory / f"{key}.json", entry)
        self.stored += 1

    @property
    def disabled_reason(self) -> str | None:
        """The line a run prints when its episodes are not cached (None when they are)."""
        if self.enabled:
            return None
        return (
            f"episode cache off: the agent {self.agent} declares no name and version, so its episodes "
            "are run again on resume; give its factory `name` and `version` (taugepa.agents.declare)"
        )

    def count(self) -> int:
        """Episodes on disk."""
        return len(list(self.directory.glob("*.json"))) if self.directory.is_dir() else 0


@dataclass
class InProcessEvaluator:
    """Runs episodes in this process with `concurrency` in flight (taugepa.episode.runner)."""

    settings: HarnessSettings
    store: EpisodeStore | None = None
    infra_rounds: int = 2  # extra rounds for episodes that ended in an infrastructure error
    episodes_run: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    on_entry: Callable[[dict[str, Any]], None] | None = None
    usage: EpisodeUsage = field(default_factory=lambda: EpisodeUsage())

    def run(
        self,
        tasks: Sequence[Task],
        wiki: str,
        tool_descriptions: Descriptions = None,
        *,
        fewshot: Demonstrations | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Every trial of every task, as scores-file entries, keyed by task id.

        `fewshot`: a candidate's demonstrations (None: the settings' own)."""
        entries: dict[tuple[str, int], dict[str, Any]] = {}
        pending = []
        settings = self.settings.replace(tool_descriptions=as_pairs(tool_descriptions))
        if fewshot is not None:
            settings = settings.replace(fewshot=fewshot)
        unique = {task.id: task for task in tasks}.values()  # a batch may name a task twice (GEPA pads)
        for task in unique:
            for trial in range(self.settings.trials):
                stored = self.store.get(task, wiki, trial, tool_descriptions, fewshot) if self.store else None
                if stored is not None:
                    entries[(task.id, trial)] = stored
                else:
                    pending.append(EpisodeJob(task, wiki, settings.for_trial(trial)))
        for _round in range(self.infra_rounds + 1):
            if not pending:
                break
            failed = []
            with closing(iter_jobs(pending, self.settings.concurrency)) as finished:
                for job, result in finished:
                    entries[(job.task.id, job.config.trial)] = self._record(
                        job, result, tool_descriptions, fewshot
                    )
                    if result.outcome == ERROR and result.termination != AGENT_ERROR:
                        failed.append(job)  # an exception inside the agent is its own, not retried
            pending = failed
        if pending:
            first = entries[(pending[0].task.id, pending[0].config.trial)]
            raise EvaluationFailed(
                f"{len(pending)} episode(s) still ended in infrastructure errors after "
                f"{self.infra_rounds + 1} rounds "
                f"(first: {pending[0].task.id}: {first['feedback']}); "
                "the candidate was not scored: fix the endpoint and rerun the same command to resume"
            )
        return {
            task.id: [entries[(task.id, trial)] for trial in range(self.settings.trials)] for task in tasks
        }

    def _record(
        self,
        job: EpisodeJob,
        result: EpisodeResult,
        tool_descriptions: Descriptions,
        fewshot: Demonstrations | None,
    ) -> dict[str, Any]:
        self.episodes_run += 1
        _add_cost(self, result.usage)
        entry = episode_entry(job.task, result.to_dict())
        self.usage.add(entry)
        if result.outcome != ERROR and self.store is not None:
            self.store.put(job.task, job.wiki, job.config.trial, entry, tool_descriptions, fewshot)
        if self.on_entry is not None:
            self.on_entry(entry)
        return entry


@dataclass
class EpisodeUsage:
    """The agent's and the user simulator's usage over the episodes an evaluator ran, and how many passed."""

    sides: dict[str, SideUsage] = field(default_factory=lambda: {side: SideUsage() for side in SIDES})
    passed: int = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.passed += entry.get("outcome") == PASSED
        usage = entry.get("usage") or {}
        for side in SIDES:
            if usage.get(side):
                self.sides[side].add(usage[side])


def _add_cost(evaluator: Any, usage: dict[str, Any] | None) -> None:
    """Add an episode's cost; an LLM episode of a model without a price makes the total unknown."""
    if not usage:
        return
    cost = usage.get("cost_usd")
    if cost is None:
        evaluator.cost_known = False
    else:
        evaluator.cost_usd += float(cost)


@dataclass
class PytestEvaluator:
    """Runs the batch as `pytest benchmarks ... -n N` in a subprocess and reads its scores file.

    The point is to check that the optimizer and CI measure the same thing: the cases are
    selected by node id from the same task specs, so task ids and episodes are identical.
    """

    settings: HarnessSettings
    task_specs: Sequence[str]
    benchmarks_dir: Path
    workers: int = 0
    extra_args: Sequence[str] = ()
    episodes_run: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    on_entry: Callable[[dict[str, Any]], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    usage: EpisodeUsage = field(default_factory=lambda: EpisodeUsage())

    def run(
        self,
        tasks: Sequence[Task],
        wiki: str,
        tool_descriptions: Descriptions = None,
        *,
        fewshot: Demonstrations | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        trials = self.settings.trials
        with tempfile.TemporaryDirectory(prefix="taugepa-eval-") as folder:
            wiki_path, scores_path = Path(folder) / "wiki.md", Path(folder) / "scores.json"
            write_text_atomically(wiki_path, wiki)
            settings = self.settings.replace(tool_descriptions=as_pairs(tool_descriptions))
            if fewshot is not None:
                settings = settings.replace(fewshot=fewshot)
            test_file = self.benchmarks_dir / "test_airline.py"
            node_ids = [
                f"{test_file}::test_task[{task.id if trials == 1 else f'{task.id}-t{trial}'}]"
                for task in tasks
                for trial in range(trials)
            ]
            command = [
                sys.executable,
                "-m",
                "pytest",
                *node_ids,
                "-q",
                "-p",
                "no:cacheprovider",
                "--wiki",
                str(wiki_path),
                "--scores-out",
                str(scores_path),
                "--task-filter",
                "all",
                *[arg for spec in self.task_specs for arg in ("--tasks", spec)],
                *harness_arguments(settings, Path(folder)),
                *(["-n", str(self.workers)] if self.workers else []),
                *self.extra_args,
            ]
            completed = subprocess.run(
                command, capture_output=True, text=True, check=False, env={**os.environ, **self.env}
            )
            if not scores_path.exists():
                tail = (completed.stdout + completed.stderr).strip().splitlines()[-3:]
                raise EvaluationFailed(
                    f"pytest exited with status {completed.returncode} and wrote no scores file: "
                    + " | ".join(tail)
                )
            scores = load_scores(scores_path)
        grouped = scores.episodes_by_task()
        for entries in grouped.values():
            for entry in entries:
                self.episodes_run += 1
                _add_cost(self, entry.get("usage"))
                self.usage.add(entry)
                if self.on_entry is not None:
                    self.on_entry(entry)
        errors = [
            e
            for entries in grouped.values()
            for e in entries
            if e["outcome"] == ERROR and e.get("termination") != AGENT_ERROR
        ]
        if errors:
            raise EvaluationFailed(
                f"{len(errors)} episode(s) ended in infrastructure errors under pytest "
                f"(first: {errors[0]['task_id']}: {errors[0]['feedback']})"
            )
        missing = [task.id for task in tasks if task.id not in grouped]
        if missing:
            raise EvaluationFailed(f"the pytest run did not report tasks {', '.join(missing[:5])}")
        # The scores file must load into GEPA's form: the same path CI artifacts take.
        to_evaluation_batch(scores, [task.id for task in tasks])
        return {task.id: grouped[task.id] for task in tasks}


def default_benchmarks_dir() -> Path:
    """The packaged benchmark suite's folder (`taugepa.benchmarks`, what `pytest benchmarks` runs)."""
    return SUITE_DIR


def valid_tasks(tasks: Sequence[Task]) -> tuple[list[Task], list[Task]]:
    """(tasks whose gold replays, tasks whose gold does not)."""
    cache = default_gold_cache()
    valid: list[Task] = []
    invalid: list[Task] = []
    for task in tasks:
        (valid if cache.get(task).valid else invalid).append(task)
    return valid, invalid


__all__ = [
    "EpisodeStore",
    "EvaluationFailed",
    "InProcessEvaluator",
    "PytestEvaluator",
    "default_benchmarks_dir",
    "valid_tasks",
]
