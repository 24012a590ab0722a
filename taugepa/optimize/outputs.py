"""What `taugepa optimize` leaves in the run directory when the search ends.

The best wiki (sections reassembled in order), with tool components the best tool
descriptions as JSON (what `pytest benchmarks --tool-descriptions` takes), every candidate
with its validation score and its components' hashes, GEPA's own result, a plot of the
validation score per candidate against the episodes counted when it was validated (the
figure the iteration lines print), and a unified diff of the best against the seed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from taugepa.episode.fewshot import fewshot_document
from taugepa.files import write_json_atomically, write_text_atomically
from taugepa.llm.usage import SIDES, SideUsage, usage_totals
from taugepa.optimize.components import ComponentSet
from taugepa.optimize.fewshot_seed import BEST_FEWSHOT
from taugepa.optimize.reflection_model import REFLECTION_SIDE
from taugepa.optimize.selection import CandidateFigures, Selection, candidate_table
from taugepa.optimize.settings import BEST_WIKI, COST_FILE, OptimizeOutcome, OptimizeSettings, RolloutPlan
from taugepa.optimize.settings import TOOLS_OUTPUT as BEST_TOOL_DESCRIPTIONS


def write_outputs(
    settings: OptimizeSettings,
    components: ComponentSet,
    result: Any,
    plan: RolloutPlan,
    store: Any,
    evaluator: Any,
    reflection: Any,
    selection: Selection,
    figures: dict[int, CandidateFigures],
) -> OptimizeOutcome:
    """Write the run's outputs (the best is `selection`'s) and return its figures."""

    run_dir = settings.run_dir
    wikis = [components.wiki(candidate) for candidate in result.candidates]
    descriptions = [components.tool_descriptions(candidate) for candidate in result.candidates]
    scores = [float(score) for score in result.val_aggregate_scores]
    best = selection.best
    write_text_atomically(run_dir / BEST_WIKI, wikis[best])
    if descriptions[best] is not None:
        write_json_atomically(run_dir / BEST_TOOL_DESCRIPTIONS, descriptions[best])
    fewshots = [components.fewshot_fitted(candidate) for candidate in result.candidates]
    if components.seed_fewshot is not None:
        demonstrations, trimmed = fewshots[best]
        write_json_atomically(
            run_dir / BEST_FEWSHOT,
            fewshot_document(demonstrations or (), candidate=best, trimmed=trimmed),
        )
    val_sizes = [len(subscores) for subscores in result.val_subscores]
    candidates = []
    for index, (candidate, wiki) in enumerate(zip(result.candidates, wikis, strict=True)):
        found = int(result.discovery_eval_counts[index])
        figure = figures.get(index)
        record: dict[str, Any] = {
            "index": index,
            "val_score": scores[index],
            "val_pass_rate": figure.pass_rate if figure else None,
            "val_compliance": figure.compliance if figure else None,
            "eligible": index in selection.eligible,
            "parents": [p for p in (result.parents[index] or []) if p is not None],
            "discovered_at_metric_calls": found,
            # the count the iteration line printed: after this candidate's validation
            "validated_at_episodes": (found + val_sizes[index]) * plan.trials,
            "wiki_sha256": hashlib.sha256(wiki.encode()).hexdigest(),
            "components_sha256": components.hashes(candidate),
            "wiki": wiki,
        }
        if descriptions[index] is not None:
            record["tool_descriptions"] = descriptions[index]
        if components.seed_fewshot is not None:
            record["fewshot"] = [demo.to_dict() for demo in fewshots[index][0] or ()]
            record["fewshot_trimmed"] = fewshots[index][1]
        candidates.append(record)
    write_json_atomically(
        run_dir / "candidates.json",
        {
            "best": best,
            "seed_score": scores[0],
            "best_score": scores[best],
            "selection": settings.selection,
            "selection_reason": selection.reason,
            "objective_best": int(result.best_idx),  # GEPA's own pick: the highest validation score
            "components": components.describe(),
            # proposals refused this session (empty, over --max-wiki-chars), each with its reason
            "failed_proposals": list(getattr(getattr(reflection, "proposals", None), "failed", [])),
            "candidates": candidates,
        },
    )
    write_json_atomically(run_dir / "gepa_result.json", _jsonable(result.to_dict()))
    lines = list(
        difflib.unified_diff(
            wikis[0].splitlines(),
            wikis[best].splitlines(),
            fromfile=f"seed ({settings.seed_wiki_path})",
            tofile=f"best (candidate #{best})",
            lineterm="",
        )
    )
    if descriptions[best] is not None:
        lines += difflib.unified_diff(
            json.dumps(descriptions[0], indent=2).splitlines(),
            json.dumps(descriptions[best], indent=2).splitlines(),
            fromfile="seed tool descriptions",
            tofile=f"best tool descriptions (candidate #{best})",
            lineterm="",
        )
    write_text_atomically(run_dir / "best_vs_seed.diff", "\n".join(lines) + "\n" if lines else "")
    plot_validation_scores(candidates, best, run_dir / "val_scores.png")
    write_json_atomically(run_dir / COST_FILE, run_cost(evaluator, reflection))
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
        selection_reason=selection.reason,
        table=candidate_table(scores, figures, selection, int(result.best_idx)),
    )


def run_cost(evaluator: Any, reflection: Any) -> dict[str, Any]:
    """The optimize run's usage: agent, user simulator (this session's episodes) and reflection
    model each, in all, per passed episode, and the share of prompt tokens from providers' caches."""
    usage = getattr(evaluator, "usage", None)
    sides = {side: SideUsage() for side in SIDES}
    for side, tally in (usage.sides if usage is not None else {}).items():
        sides[side].add(tally.to_dict())
    reflection_usage = SideUsage()
    for call in getattr(reflection, "calls", []):
        reflection_usage.add_call(call)
    sides[REFLECTION_SIDE] = reflection_usage
    return usage_totals(sides, usage.passed if usage is not None else 0)


def plot_validation_scores(candidates: list[dict[str, Any]], best: int, path: Any) -> None:
    """Validation score of each candidate against the episodes counted once it was validated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    xs = [c["validated_at_episodes"] for c in candidates]
    ys = [c["val_score"] for c in candidates]
    running = [max(ys[: i + 1]) for i in range(len(ys))]
    axes.step(xs, running, where="post", color="#2a9d4b", label="best so far")
    axes.scatter(xs, ys, color="#1f77b4", zorder=3, label="candidate")
    axes.scatter([xs[best]], [ys[best]], color="#d62728", zorder=4, s=80, marker="*", label=f"best (#{best})")
    for candidate, x, y in zip(candidates, xs, ys, strict=True):
        axes.annotate(f"#{candidate['index']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xlabel("episodes counted when the candidate was validated (as in the iteration lines)")
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
