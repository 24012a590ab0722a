"""`--curriculum easy-first`: GEPA draws training minibatches from the easier groups first.

Stages: the training tasks' groups from easiest to hardest (`easy`, `medium`, `hard`, then
any other group by name; a group with fewer tasks than a minibatch joins the next stage),
then a last stage, `all`, with every training task. Minibatches come from the current
stage only: its tasks shuffled (seeded), each used once before any is used again.

The rule to move on, checked before each iteration (the last stage lasts to the end):
- the parent's score on the previous minibatch reached the threshold (`--curriculum-threshold`,
  default 1.0: the whole minibatch passed, so the stage has little left to teach), or
- the stage has used its share of the budget: with n stages, stage k (from 1) ends once
  k/n of the metric calls after the seed's validation are spent.

The stage, its draws and the last parent score are kept in GEPA's checkpoint (through the
adapter), so a resumed run continues in the stage it was in.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from taugepa.errors import ConfigError
from taugepa.tasks.model import Task

CURRICULA = ("none", "easy-first")
DIFFICULTY_ORDER = ("easy", "medium", "hard")
LAST_STAGE = "all"


@dataclass(frozen=True)
class Stage:
    name: str
    ids: tuple[int, ...]  # positions in the training set (GEPA's data ids for a list)


def build_stages(train: Sequence[Task], minibatch_size: int) -> list[Stage]:
    """The curriculum's stages, easiest first, ending with every training task."""
    groups: dict[str, list[int]] = {}
    for position, task in enumerate(train):
        groups.setdefault(task.group, []).append(position)

    def rank(name: str) -> tuple[int, str]:
        return (
            (DIFFICULTY_ORDER.index(name), "") if name in DIFFICULTY_ORDER else (len(DIFFICULTY_ORDER), name)
        )

    ordered = sorted(groups, key=rank)
    if len(ordered) < 2:
        raise ConfigError(
            "--curriculum easy-first needs training tasks of at least two groups (difficulties); "
            f"these are all {ordered[0] if ordered else 'missing'}: use --curriculum none or more --tasks"
        )
    stages: list[Stage] = []
    names: list[str] = []
    ids: list[int] = []
    for name in ordered:
        names.append(name)
        ids.extend(groups[name])
        if len(ids) >= minibatch_size:
            stages.append(Stage("+".join(names), tuple(ids)))
            names, ids = [], []
    if ids:  # a small last group joins the stage before it
        last = stages.pop() if stages else Stage("", ())
        stages.append(Stage("+".join(filter(None, [last.name, *names])), last.ids + tuple(ids)))
    stages.append(Stage(LAST_STAGE, tuple(range(len(train)))))
    return stages


class EasyFirstSampler:
    """A GEPA `BatchSampler` (and callback) that walks the stages by the rule above."""

    def __init__(
        self,
        train: Sequence[Task],
        minibatch_size: int,
        *,
        max_metric_calls: int,
        seed_metric_calls: int,
        threshold: float = 1.0,
        seed: int = 0,
        say: Callable[[str], None] = print,
    ):
        self.stages = build_stages(train, minibatch_size)
        self.minibatch_size = minibatch_size
        self.max_metric_calls = max_metric_calls
        self.seed_metric_calls = seed_metric_calls
        self.threshold = threshold
        self.seed = seed
        self.say = say
        self.stage = 0
        self.drawn = 0
        self.last_score: float | None = None
        self.current = self.label()

    # ---- what the log says -----------------------------------------------------------------

    def label(self, stage: int | None = None) -> str:
        index = self.stage if stage is None else stage
        return f"stage {index + 1}/{len(self.stages)} {self.stages[index].name}"

    def describe(self) -> str:
        stages = " -> ".join(f"{s.name} ({len(s.ids)} tasks)" for s in self.stages)
        share = f"1/{len(self.stages)}"
        return (
            f"curriculum easy-first: {stages}; move on when the parent's minibatch score reaches "
            f"{self.threshold:g} or the stage has spent its share ({share}) of the budget"
        )

    def stage_end(self, stage: int) -> float:
        """Metric calls after which `stage` ends by the budget rule."""
        spendable = max(0, self.max_metric_calls - self.seed_metric_calls)
        return self.seed_metric_calls + spendable * (stage + 1) / len(self.stages)

    # ---- GEPA's BatchSampler -----------------------------------------------------------------

    def next_minibatch_ids(self, loader: Any, state: Any) -> list[int]:
        self._advance(int(state.total_num_evals))
        size = len(self.stages[self.stage].ids)
        picked: list[int] = []
        while len(picked) < self.minibatch_size:  # every stage has at least a minibatch of tasks
            data_id = self._order(self.drawn)[self.drawn % size]
            self.drawn += 1
            if data_id not in picked:
                picked.append(data_id)
        self.current = self.label()
        return picked

    def _order(self, draw: int) -> list[int]:
        """The stage's tasks shuffled for the pass through them that draw number `draw` is in."""
        ids = list(self.stages[self.stage].ids)
        random.Random(f"{self.seed}:{self.stage}:{draw // len(ids)}").shuffle(ids)
        return ids

    def _advance(self, metric_calls: int) -> None:
        if self.stage >= len(self.stages) - 1:
            return
        name = self.stages[self.stage].name
        if self.last_score is not None and self.last_score >= self.threshold:
            reason = f"the parent's minibatch score {self.last_score:.2f} reached {self.threshold:g}"
        elif metric_calls >= self.stage_end(self.stage):
            reason = (
                f"stage {name} used its share of the budget: {metric_calls} of "
                f"{self.max_metric_calls} metric calls spent"
            )
        else:
            return
        self.stage += 1
        self.drawn = 0
        self.last_score = None
        self.say(f"curriculum: {self.label()} ({reason})")

    # ---- GEPA callback: the parent's score on the minibatch ------------------------------

    def on_evaluation_end(self, event: dict[str, Any]) -> None:
        if event.get("candidate_idx") is not None and event.get("has_trajectories"):
            scores = [float(s) for s in event["scores"]]
            self.last_score = sum(scores) / len(scores) if scores else None

    # ---- kept in GEPA's checkpoint ---------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"stage": self.stage, "drawn": self.drawn, "last_score": self.last_score}

    def restore(self, state: dict[str, Any]) -> None:
        self.stage = min(int(state.get("stage", 0)), len(self.stages) - 1)
        self.drawn = int(state.get("drawn", 0))
        self.last_score = state.get("last_score")
        self.current = self.label()
