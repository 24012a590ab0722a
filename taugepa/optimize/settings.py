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

from taugepa.episode.options import TaskSelection
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.optimize.proposals import DEFAULT_MAX_WIKI_CHARS
from taugepa.optimize.reflection_model import ReflectionSettings

BEST_WIKI = "best_wiki.md"
COST_FILE = "cost.json"  # agent, user simulator and reflection usage and cost (taugepa.llm.usage)
OUTPUT_FILES = (
    BEST_WIKI,
    "candidates.json",
    "gepa_result.json",
    "val_scores.png",
    "best_vs_seed.diff",
    COST_FILE,
)
TOOLS_OUTPUT = "best_tool_descriptions.json"
# GEPA's merge proposer scores a merged candidate on this many validation tasks first
# (gepa.proposer.merge.MergeProposer.select_eval_subsample_for_merged_program's default).
MERGE_SUBSAMPLE = 5

SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class OptimizeSettings:
    """Everything `taugepa optimize` takes (validated by the command): the harness it scores with, and
    the search."""

    tasks: TaskSelection
    seed_wiki: str
    seed_wiki_path: str
    harness: HarnessSettings
    reflection: ReflectionSettings
    budget: int
    run_dir: Path
    minibatch_size: int = 3
    max_wiki_chars: int = DEFAULT_MAX_WIKI_CHARS  # --max-wiki-chars (taugepa.optimize.proposals)
    val_size: int = 20
    train_size: int | None = None
    seed: int = 0
    evaluate_with: str = "process"
    pytest_workers: int = 0
    benchmarks_dir: Path | None = None
    objective: Callable[[dict[str, Any]], float | None] | None = field(default=None, compare=False)
    objective_name: str = "pass"
    selection: str = "compliance-floor"  # --selection (taugepa.optimize.selection)
    components: str = "wiki"  # --components
    component_selector: str = "round-robin"
    curriculum: str = "none"
    curriculum_threshold: float = 1.0
    merge: bool = False
    max_merges: int = 5
    track: str = "none"
    fewshot_from: Path | None = None  # --fewshot-from: where the fewshot seed's episodes come from
    test_specs: tuple[str, ...] = ()  # --test-tasks: the transfer step (none: no transfer)
    test_trials: int | None = None  # default: the search's trials

    @property
    def transfer_trials(self) -> int:
        return self.test_trials or self.harness.trials

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its resumption (the budget may grow).

        Settings left at their defaults are left out, so run directories of earlier versions
        still resume. The transfer and tracking settings do not change the search: a finished
        run can be given a transfer step by rerunning it with --test-tasks.
        """
        optional = {
            "components": (self.components, "wiki"),
            "component_selector": (self.component_selector, "round-robin"),
            "curriculum": (self.curriculum, "none"),
            "curriculum_threshold": (self.curriculum_threshold, 1.0),
            "merge": (self.merge, False),
            "max_merges": (self.max_merges if self.merge else 5, 5),
            "max_wiki_chars": (self.max_wiki_chars, DEFAULT_MAX_WIKI_CHARS),
        }
        extra = {name: value for name, (value, default) in optional.items() if value != default}
        return {
            **extra,
            "task_specs": list(self.tasks.specs),
            "seed_wiki_sha256": hashlib.sha256(self.seed_wiki.encode()).hexdigest(),
            "harness": self.harness.fingerprint(),
            "trials": self.harness.trials,
            "reflection": self.reflection.describe(),
            "minibatch_size": self.minibatch_size,
            "val_size": self.val_size,
            "train_size": self.train_size,
            "seed": self.seed,
            "task_filter": self.tasks.task_filter,
            "objective": self.objective_name,
        }


@dataclass(frozen=True)
class RolloutPlan:
    """What the budget buys, in episodes (printed before anything is spent)."""

    budget: int
    trials: int
    val_size: int
    minibatch_size: int
    max_merges: int = 0  # GEPA's merge proposer (0: off)

    @property
    def merge_minimum(self) -> int:
        """A merge iteration: the merged candidate on a validation subsample (rejected)."""
        return MERGE_SUBSAMPLE * self.trials if self.max_merges else 0

    @property
    def merge_maximum(self) -> int:
        """An accepted merge is also scored on the whole validation set."""
        return self.merge_minimum + self.val_size * self.trials if self.max_merges else 0

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
        return max(self.iteration_maximum, self.merge_maximum) - self.trials

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
        merges = []
        if self.max_merges:
            merges.append(
                f"merge: up to {self.max_merges} accepted merges (GEPA's merge proposer, tried instead of a "
                f"reflective iteration after one that found a new candidate), each {self.merge_minimum} "
                f"(validation subsample of {MERGE_SUBSAMPLE} x {self.trials} trials) to {self.merge_maximum} "
                "episodes (an accepted merge is also validated)"
            )
        return [
            f"rollout plan (episodes): budget {self.budget}; seed evaluation on the validation set "
            f"{self.seed_evaluation}; per iteration {self.iteration_minimum} "
            f"(minibatch {self.minibatch_size} x parent and child x {self.trials} trials) "
            f"to {self.iteration_maximum} (an accepted child is also validated); "
            f"about {most} to {least} iterations",
            *merges,
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
    transfer: dict[str, Any] | None = None  # the transfer step's comparison (taugepa compare's JSON)
    selection_reason: str = ""  # why the best is the best (--selection)
    table: list[str] = field(default_factory=list)  # the candidates' validation figures, as printed

    def cost_text(self) -> str:
        return f"${self.cost_usd:.4f}" if self.cost_known else "cost n/a (a model has no price)"
