"""What `taugepa optimize` shows while it runs: one line per GEPA iteration.

Each line gives the parent and the minibatch scores, the component reflected on (with
several), whether the child was accepted, the best validation score so far, the episodes
counted against the budget and run in this session, the dollars spent, and with a
curriculum the stage the minibatch came from. A merge iteration says which candidates it
merged. An iteration cut short by Ctrl-C or an error prints nothing: the command's own
last line says what happened.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from taugepa.optimize.selection import ValidationLedger
from taugepa.optimize.settings import RolloutPlan


class ProgressLines:
    """GEPA callback: one line per iteration, printed above GEPA's progress bar."""

    def __init__(
        self,
        plan: RolloutPlan,
        say: Callable[[str], None],
        several_components: bool = False,
        ledger: ValidationLedger | None = None,
    ):
        self.plan = plan
        self.ledger = ledger  # each candidate's validation pass rate and compliance
        self.say = say
        self.several_components = several_components
        self.cost: Callable[[], str] = lambda: "cost n/a"
        self.stage: Callable[[], str] | None = None  # the curriculum's stage of this iteration
        self.episodes = 0
        self.best_val: float | None = None
        self._iteration: dict[str, Any] = {}

    def count_episode(self, entry: dict[str, Any]) -> None:
        self.episodes += 1

    def _write(self, line: str) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(line)
        except ImportError:
            self.say(line)

    def on_iteration_start(self, event: dict[str, Any]) -> None:
        self._iteration = {"iteration": event["iteration"]}

    def on_candidate_selected(self, event: dict[str, Any]) -> None:
        self._iteration["parent"] = event["candidate_idx"]

    def on_evaluation_start(self, event: dict[str, Any]) -> None:
        if event.get("candidate_idx") is None and len(event.get("parent_ids") or []) == 2:
            self._iteration["merging"] = True  # the merged candidate on a validation subsample

    def on_evaluation_end(self, event: dict[str, Any]) -> None:
        if event.get("is_seed_candidate") and event.get("iteration", 0) <= 0:
            return
        if self._iteration.get("merging"):
            key = "merge_scores"
        else:
            key = "parent_scores" if "parent_scores" not in self._iteration else "child_scores"
        self._iteration[key] = event["scores"]

    def on_evaluation_skipped(self, event: dict[str, Any]) -> None:
        self._iteration["skipped"] = event.get("reason", "skipped")

    def on_reflective_dataset_built(self, event: dict[str, Any]) -> None:
        self._iteration["components"] = list(event.get("components") or [])
        if not any(event.get("dataset", {}).values()):
            self._iteration["skipped"] = "no failure of the minibatch concerns it"

    def on_merge_attempted(self, event: dict[str, Any]) -> None:
        self._iteration["merge"] = list(event.get("parent_ids") or [])

    def on_candidate_accepted(self, event: dict[str, Any]) -> None:
        self._iteration["accepted"] = event["new_candidate_idx"]

    def on_candidate_rejected(self, event: dict[str, Any]) -> None:
        self._iteration["rejected"] = event.get("reason", "")

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        score = float(event["average_score"])
        self._iteration["val"] = score
        if self.best_val is None or score > self.best_val:
            self.best_val = score
        if event["iteration"] <= 0 or event["candidate_idx"] == 0:
            figures = self._figures(event["candidate_idx"])
            self._write(
                f"seed wiki: validation score {score:.3f} on {event['num_examples_evaluated']} tasks{figures}"
            )

    def _figures(self, index: int | None) -> str:
        figure = self.ledger.by_index().get(index) if self.ledger is not None and index is not None else None
        return f" ({figure.describe()})" if figure else ""

    def on_iteration_end(self, event: dict[str, Any]) -> None:
        if sys.exc_info()[0] is not None:
            return  # cut short (Ctrl-C, an endpoint down): not a rejection, and the command says so
        it = self._iteration
        state = event["state"]
        head = f"iteration {event['iteration']}"
        if self.stage is not None and "merge" not in it:
            head += f" [{self.stage()}]"
        if "merge" in it:
            parents = " and ".join(f"#{p}" for p in it["merge"])
            parts = [f"{head}: merge of {parents}"]
            if "merge_scores" in it:
                parts.append(f"validation subsample {_fraction(it['merge_scores'])}")
        else:
            parts = [f"{head}: parent #{it.get('parent', '?')}"]
            if "parent_scores" in it:
                parts.append(f"minibatch {_fraction(it['parent_scores'])}")
            if self.several_components and it.get("components"):
                parts.append(f"component {', '.join(it['components'])}")
            if "child_scores" in it:
                parts.append(f"child {_fraction(it['child_scores'])}")
        if "accepted" in it:
            figures = self._figures(it["accepted"])
            figures = f", {figures[2:-1]}" if figures else ""
            parts.append(
                f"accepted as #{it['accepted']} (validation {it.get('val', float('nan')):.3f}{figures})"
            )
        elif "skipped" in it and "child_scores" not in it:
            parts.append(f"no proposal ({it['skipped']})")
        elif "merge" in it or "child_scores" in it:
            parts.append("not accepted")
        else:
            parts.append("no proposal")
        best = "n/a" if self.best_val is None else f"{self.best_val:.3f}"
        spent = state.total_num_evals * self.plan.trials
        parts.append(f"best validation {best}")
        parts.append(f"{spent}/{self.plan.budget} episodes counted, {self.episodes} run in this session")
        parts.append(self.cost())
        self._write(" · ".join(parts))


def _fraction(scores: list[float]) -> str:
    return f"{sum(scores):g}/{len(scores)}"
