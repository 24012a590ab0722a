"""GEPA's view of the harness: a candidate is a wiki (whole, or by sections) and tool descriptions.

`WikiAdapter.evaluate` turns the candidate into the wiki and tool descriptions the agent
sees (`taugepa.optimize.components`), runs each task of the batch through the evaluator
(`taugepa.optimize.evaluators`: the same `run_episode` and scoring the pytest plugin uses,
in this process or through `pytest benchmarks`), and returns one score per task: the mean
over trials of passed = 1 / failed = 0 (or the combined objective). `make_reflective_dataset`
gives each component the records of the failures that concern it.

The adapter also carries the state of the run's own GEPA strategies (the curriculum's
stage) into GEPA's checkpoints, so a resumed run continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gepa import EvaluationBatch, GEPAAdapter

from taugepa.errors import ConfigError
from taugepa.optimize.components import WIKI_COMPONENT, ComponentSet
from taugepa.optimize.evaluators import (
    EpisodeStore,
    EvaluationFailed,
    InProcessEvaluator,
    PytestEvaluator,
    default_benchmarks_dir,
    valid_tasks,
)
from taugepa.optimize.selection import ValidationLedger
from taugepa.protocol import INVALID
from taugepa.tasks.model import Task

# entry -> extra lines for its reflective record (e.g. "this task's gold breaks the policy")
RecordNotes = Callable[[dict[str, Any]], list[str]]
# entry -> the score GEPA optimizes (default: the episode's score, 1.0 or 0.0)
Objective = Callable[[dict[str, Any]], float | None]  # None for an unscored entry, as its score


class Persistent(Protocol):
    """A strategy whose state must survive a resume (kept in GEPA's checkpoint)."""

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


class WikiAdapter(GEPAAdapter[Task, list[dict[str, Any]], dict[str, Any]]):
    """GEPA adapter over the harness; data instances are `Task`s, the candidate a component dict.

    Without `components` the candidate is `{"wiki": text}`.
    """

    def __init__(
        self,
        evaluator: InProcessEvaluator | PytestEvaluator,
        *,
        components: ComponentSet | None = None,
        record_notes: RecordNotes | None = None,
        objective: Objective | None = None,
        passes_per_batch: int = 2,
        persistent: dict[str, Persistent] | None = None,
        ledger: ValidationLedger | None = None,
    ):
        self.ledger = ledger  # each candidate's validation pass rate and compliance (selection)
        self.evaluator = evaluator
        self.components = components or ComponentSet(mode="wiki", seed_wiki="")
        self.record_notes = record_notes
        self.objective = objective
        self.passes_per_batch = passes_per_batch
        self.persistent = dict(persistent or {})

    def evaluate(
        self, batch: list[Task], candidate: dict[str, str], capture_traces: bool = False
    ) -> EvaluationBatch:
        wiki = self.components.wiki(candidate)
        descriptions = self.components.tool_descriptions(candidate)
        by_task = self.evaluator.run(batch, wiki, descriptions, fewshot=self.components.fewshot(candidate))
        outputs, scores, trajectories = [], [], []
        for task in batch:
            entries = by_task[task.id]
            if any(e["outcome"] == INVALID for e in entries):
                raise ConfigError(f"task {task.id} is invalid (its gold cannot be replayed): remove it")
            values = [self._score(e) for e in entries]
            scores.append(sum(values) / len(values))
            outputs.append(
                {
                    "task_id": task.id,
                    "outcomes": [e["outcome"] for e in entries],
                    # per episode: no definite violation (None: not judged), for the selection's figures
                    "compliant": [(e.get("compliance") or {}).get("compliant") for e in entries],
                }
            )
            trajectories.append(entries)
        if self.ledger is not None:
            self.ledger.observe([task.id for task in batch], candidate, outputs)
        return EvaluationBatch(
            outputs=outputs, scores=scores, trajectories=trajectories if capture_traces else None
        )

    def _score(self, entry: dict[str, Any]) -> float:
        if entry["score"] is None:  # an exception inside the agent (infrastructure errors never get here)
            return 0.0
        value = self.objective(entry) if self.objective else entry["score"]
        assert value is not None, "the objective of a scored entry is a number"
        return float(value)

    def make_reflective_dataset(
        self,
        candidate: dict[str, str],
        eval_batch: EvaluationBatch,
        components_to_update: list[str],
    ) -> dict[str, list[dict[str, Any]]]:
        entries = [entry for trajectory in eval_batch.trajectories or [] for entry in trajectory]
        dataset = self.components.reflective_dataset(entries, components_to_update, self.passes_per_batch)
        if self.record_notes is not None:
            by_task = {entry["task_id"]: entry for entry in entries}
            for records in dataset.values():
                for record in records:
                    notes = self.record_notes(by_task[record["Inputs"]["task_id"]])
                    if notes:
                        record["Note on this task"] = notes
        return dataset

    # GEPA saves this with its state before every iteration and gives it back on resume.
    def get_adapter_state(self) -> dict[str, Any]:
        return {name: strategy.state() for name, strategy in self.persistent.items()}

    def set_adapter_state(self, state: dict[str, Any]) -> None:
        for name, strategy in self.persistent.items():
            if name in (state or {}):
                strategy.restore(state[name])


__all__ = [
    "WIKI_COMPONENT",
    "EpisodeStore",
    "EvaluationFailed",
    "InProcessEvaluator",
    "PytestEvaluator",
    "WikiAdapter",
    "default_benchmarks_dir",
    "valid_tasks",
]
