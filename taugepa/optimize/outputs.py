"""What `taugepa optimize` shows while it runs and leaves in the run directory.

While running: GEPA's progress bar over metric calls, and one line per iteration (parent
and child scores on the minibatch, accepted or not, the best validation score so far, the
episodes and dollars spent). At the end: the best wiki, every candidate with its validation
score, GEPA's own result, a plot of validation score per candidate over the run, and a
unified diff of the best wiki against the seed.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from typing import Any

from taugepa.files import write_json_atomically, write_text_atomically
from taugepa.optimize.settings import OptimizeOutcome, OptimizeSettings, RolloutPlan


class ProgressLines:
    """GEPA callback: one line per iteration, printed above GEPA's progress bar."""

    def __init__(self, plan: RolloutPlan, say: Callable[[str], None]):
        self.plan = plan
        self.say = say
        self.cost: Callable[[], str] = lambda: "cost n/a"
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

    def on_evaluation_end(self, event: dict[str, Any]) -> None:
        key = "parent_scores" if "parent_scores" not in self._iteration else "child_scores"
        if event.get("is_seed_candidate") and event.get("iteration", 0) <= 0:
            return
        self._iteration[key] = event["scores"]

    def on_evaluation_skipped(self, event: dict[str, Any]) -> None:
        self._iteration["skipped"] = event.get("reason", "skipped")

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
            self._write(f"seed wiki: validation score {score:.3f} on {event['num_examples_evaluated']} tasks")

    def on_iteration_end(self, event: dict[str, Any]) -> None:
        it = self._iteration
        state = event["state"]
        parts = [f"iteration {event['iteration']}: parent #{it.get('parent', '?')}"]
        if "parent_scores" in it:
            parts.append(f"minibatch {_fraction(it['parent_scores'])}")
        if "child_scores" in it:
            parts.append(f"child {_fraction(it['child_scores'])}")
        if "accepted" in it:
            parts.append(f"accepted as #{it['accepted']} (validation {it.get('val', float('nan')):.3f})")
        elif "skipped" in it:
            parts.append(f"no proposal ({it['skipped']})")
        else:
            parts.append("not accepted")
        best = "n/a" if self.best_val is None else f"{self.best_val:.3f}"
        spent = state.total_num_evals * self.plan.trials
        parts.append(f"best validation {best}")
        parts.append(f"{spent}/{self.plan.budget} episodes counted, {self.episodes} run in this session")
        parts.append(self.cost())
        self._write(" · ".join(parts))


def _fraction(scores: list[float]) -> str:
    return f"{sum(scores):g}/{len(scores)}"


def write_outputs(
    settings: OptimizeSettings,
    result: Any,
    split: Any,
    plan: RolloutPlan,
    store: Any,
    evaluator: Any,
    reflection: Any,
) -> OptimizeOutcome:
    """Write the run's outputs and return its figures."""

    run_dir = settings.run_dir
    wikis = [candidate["wiki"] for candidate in result.candidates]
    scores = [float(score) for score in result.val_aggregate_scores]
    best = int(result.best_idx)
    write_text_atomically(run_dir / "best_wiki.md", wikis[best])
    candidates = [
        {
            "index": index,
            "val_score": scores[index],
            "parents": [p for p in (result.parents[index] or []) if p is not None],
            "discovered_at_metric_calls": int(result.discovery_eval_counts[index]),
            "wiki_sha256": hashlib.sha256(wiki.encode()).hexdigest(),
            "wiki": wiki,
        }
        for index, wiki in enumerate(wikis)
    ]
    write_json_atomically(
        run_dir / "candidates.json",
        {"best": best, "seed_score": scores[0], "best_score": scores[best], "candidates": candidates},
    )
    write_json_atomically(run_dir / "gepa_result.json", _jsonable(result.to_dict()))
    diff = difflib.unified_diff(
        wikis[0].splitlines(),
        wikis[best].splitlines(),
        fromfile=f"seed ({settings.seed_wiki_path})",
        tofile=f"best (candidate #{best})",
        lineterm="",
    )
    lines = list(diff)
    write_text_atomically(run_dir / "best_vs_seed.diff", "\n".join(lines) + "\n" if lines else "")
    plot_validation_scores(candidates, best, run_dir / "val_scores.png", plan.trials)
    return OptimizeOutcome(
        run_dir=run_dir,
        seed_score=scores[0],
        best_score=scores[best],
        best_index=best,
        candidates=len(wikis),
        metric_calls=int(result.total_metric_calls or 0),
        episodes_run=int(getattr(evaluator, "episodes_run", 0)),
        episodes_reused=int(getattr(store, "hits", 0)),
        cost_usd=float(getattr(evaluator, "cost_usd", 0.0) + getattr(reflection, "cost_usd", 0.0)),
        cost_known=bool(getattr(evaluator, "cost_known", True) and getattr(reflection, "cost_known", True)),
    )


def plot_validation_scores(candidates: list[dict[str, Any]], best: int, path: Any, trials: int) -> None:
    """Validation score of each candidate against the episodes spent when it was found."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    xs = [c["discovered_at_metric_calls"] * trials for c in candidates]
    ys = [c["val_score"] for c in candidates]
    running = [max(ys[: i + 1]) for i in range(len(ys))]
    axes.step(xs, running, where="post", color="#2a9d4b", label="best so far")
    axes.scatter(xs, ys, color="#1f77b4", zorder=3, label="candidate")
    axes.scatter([xs[best]], [ys[best]], color="#d62728", zorder=4, s=80, marker="*", label=f"best (#{best})")
    for candidate, x, y in zip(candidates, xs, ys, strict=True):
        axes.annotate(f"#{candidate['index']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xlabel("episodes spent when the candidate was found")
    axes.set_ylabel("validation score")
    axes.set_ylim(-0.05, 1.05)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title("taugepa optimize: validation score per candidate")
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary)
    plt.close(figure)
    temporary.replace(path)


def _jsonable(value: Any) -> Any:
    """GEPA's result as plain JSON (tuples become lists, unknown objects their repr)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)
