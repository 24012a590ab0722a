"""What an optimize run is given, what its budget buys, and what it ends with.

Plain data shared by the run (`taugepa.optimize.run`) and its outputs
(`taugepa.optimize.outputs`): the settings a resumed run must match, the rollout plan printed
before anything is spent, and the outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.optimize.adapter import HarnessSettings
from taugepa.optimize.reflection_model import ReflectionSettings

OUTPUT_FILES = ("best_wiki.md", "candidates.json", "gepa_result.json", "val_scores.png", "best_vs_seed.diff")

SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class OptimizeSettings:
    """Everything `taugepa optimize` takes (validated by the command)."""

    task_specs: tuple[str, ...]
    seed_wiki: str
    seed_wiki_path: str
    harness: HarnessSettings
    reflection: ReflectionSettings
    budget: int
    run_dir: Path
    minibatch_size: int = 3
    val_size: int = 20
    train_size: int | None = None
    seed: int = 0
    task_filter: str = "clean"
    audit_path: Path | None = None
    evaluate_with: str = "process"
    pytest_workers: int = 0
    benchmarks_dir: Path | None = None
    max_cost: float | None = None
    objective: Callable[[dict[str, Any]], float] | None = field(default=None, compare=False)
    objective_name: str = "pass"

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its resumption (the budget may grow)."""
        return {
            "task_specs": list(self.task_specs),
            "seed_wiki_sha256": hashlib.sha256(self.seed_wiki.encode()).hexdigest(),
            "harness": self.harness.fingerprint(),
            "trials": self.harness.trials,
            "reflection": self.reflection.describe(),
            "minibatch_size": self.minibatch_size,
            "val_size": self.val_size,
            "train_size": self.train_size,
            "seed": self.seed,
            "task_filter": self.task_filter,
            "objective": self.objective_name,
        }


@dataclass(frozen=True)
class RolloutPlan:
    """What the budget buys, in episodes (printed before anything is spent)."""

    budget: int
    trials: int
    val_size: int
    minibatch_size: int

    @property
    def seed_evaluation(self) -> int:
        return self.val_size * self.trials

    @property
    def iteration_minimum(self) -> int:
        """Parent on the minibatch, then the child on it (rejected, so no validation)."""
        return 2 * self.minibatch_size * self.trials

    @property
    def iteration_maximum(self) -> int:
        """An accepted child is also scored on the whole validation set."""
        return self.iteration_minimum + self.val_size * self.trials

    @property
    def max_metric_calls(self) -> int:
        return self.budget // self.trials

    @property
    def max_overshoot(self) -> int:
        """GEPA checks the budget before an iteration, never inside it."""
        return self.iteration_maximum - self.trials

    def iterations(self) -> tuple[int, int]:
        """(iterations if every child is accepted, iterations if none is)."""
        left = self.budget - self.seed_evaluation
        return max(0, -(-left // self.iteration_maximum)), max(0, -(-left // self.iteration_minimum))

    def check(self) -> None:
        needed = self.seed_evaluation + self.iteration_maximum
        if self.budget < needed:
            raise ConfigError(
                f"--budget {self.budget} episodes cannot pay for one iteration: the seed evaluation takes "
                f"{self.seed_evaluation} and an iteration up to {self.iteration_maximum} "
                f"(2 x minibatch {self.minibatch_size} + validation {self.val_size}, "
                f"x {self.trials} trials); "
                f"raise --budget to at least {needed} or lower --val-size/--minibatch-size"
            )

    def lines(self) -> list[str]:
        most, least = self.iterations()
        return [
            f"rollout plan (episodes): budget {self.budget}; seed evaluation on the validation set "
            f"{self.seed_evaluation}; per iteration {self.iteration_minimum} "
            f"(minibatch {self.minibatch_size} x parent and child x {self.trials} trials) "
            f"to {self.iteration_maximum} (an accepted child is also validated); "
            f"about {most} to {least} iterations",
            f"worst case: {self.budget + self.max_overshoot} episodes (GEPA checks the budget only between "
            f"iterations, so the last one may run over by up to {self.max_overshoot})",
        ]


@dataclass
class OptimizeOutcome:
    run_dir: Path
    seed_score: float
    best_score: float
    best_index: int
    candidates: int
    metric_calls: int
    episodes_run: int
    episodes_reused: int
    cost_usd: float
    cost_known: bool = True

    def cost_text(self) -> str:
        return f"${self.cost_usd:.4f}" if self.cost_known else "cost n/a (a model has no price)"
