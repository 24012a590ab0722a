"""Is one wiki really better than another? A paired comparison of two runs on the same tasks.

Both runs are reduced to one score per task (the mean over trials of passed=1 / failed=0);
only tasks scored in both runs count, so invalid tasks and infrastructure errors never tip
the balance. Pass rates get 95% bootstrap intervals over tasks, and the difference is
tested with a paired test: exact McNemar (a binomial test on the tasks that flipped) when
every score is 0 or 1, else a paired permutation test on the per-task differences.

The secondary metrics are paired the same way: each efficiency figure (turns, tool calls,
tokens, wall time) and each compliance figure (definite violations, compliant episodes) is
reduced to its mean per task, and the candidate's minus the baseline's is averaged over the
shared tasks, with a 95% bootstrap interval; once over all scored episodes, and once over
the passed episodes of the tasks passed (at least once) in both runs, so that a wiki that
fixes hard tasks is not counted as slower for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from taugepa.episode.efficiency import METRICS, figures
from taugepa.errors import ConfigError
from taugepa.protocol import FAILED, PASSED
from taugepa.results.compare_causes import cause_shift, cause_shift_lines
from taugepa.results.compare_verdict import (
    ComplianceComparison,
    compare_compliance,
    compliance_lines,
    direction,
    overall_verdict,
    paired_test,
    trade_text,
)
from taugepa.results.scores import Scores
from taugepa.rules.compliance import definite_violations

CONFIDENCE = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass
class GroupComparison:
    """Pass rates of both runs on the shared tasks of one difficulty or gold action."""

    tasks: int
    baseline: float
    candidate: float

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


# The secondary figures compared, in display order: (name, label); `percent` ones are shares.
PAIRED_FIGURES: tuple[tuple[str, str], ...] = (
    *METRICS,
    ("wall_s", "wall time (s)"),
    ("definite_violations", "definite violations"),
    ("compliant", "compliant episodes"),
)
PERCENT_FIGURES = frozenset({"compliant"})


@dataclass
class PairedFigure:
    """One efficiency or compliance figure of both runs, as means per task over shared tasks."""

    name: str
    label: str
    tasks: int
    baseline: float
    candidate: float
    median_delta: float  # the median of the per-task differences
    delta_interval: Interval

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


@dataclass
class Comparison:
    """The outcome of comparing a candidate run against a baseline run."""

    baseline_path: str
    candidate_path: str
    tasks: list[str]
    baseline_rate: float
    candidate_rate: float
    baseline_interval: Interval
    candidate_interval: Interval
    delta_interval: Interval
    test: str
    p_value: float
    alpha: float
    improved: list[str] = field(default_factory=list)
    regressed: list[str] = field(default_factory=list)
    by_group: dict[str, GroupComparison] = field(default_factory=dict)
    by_action: dict[str, GroupComparison] = field(default_factory=dict)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)
    figures: list[PairedFigure] = field(default_factory=list)  # over all scored episodes
    figures_passed: list[PairedFigure] = field(default_factory=list)  # passed episodes, tasks passed in both
    passed_in_both: int = 0
    causes: dict[str, Any] = field(default_factory=dict)  # failure causes that moved (compare_causes)
    compliance: ComplianceComparison | None = None  # the paired compliance test (compare_verdict)

    @property
    def delta(self) -> float:
        return self.candidate_rate - self.baseline_rate

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha and self.delta != 0

    @property
    def pass_rate_verdict(self) -> str:
        """The pass rate alone: better, worse or no significant difference (compare's old meaning)."""
        return direction(self.delta, self.p_value, self.alpha)

    @property
    def compliance_verdict(self) -> str | None:
        c = self.compliance
        return None if c is None else direction(c.delta, c.p_value, self.alpha)

    @property
    def verdict(self) -> str:
        """Better means passing more without breaking the policy more (see compare_verdict)."""
        return overall_verdict(self.pass_rate_verdict, self.compliance_verdict)

    @property
    def trade(self) -> str:
        return trade_text(self.delta, self.test, self.p_value, self.compliance, self.verdict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(delta=self.delta, significant=self.significant, verdict=self.verdict)
        data.update(pass_rate_verdict=self.pass_rate_verdict, compliance_verdict=self.compliance_verdict)
        if self.compliance is not None:
            data["compliance"]["delta"] = self.compliance.delta
        for name in ("by_group", "by_action"):
            for key, group in getattr(self, name).items():
                data[name][key]["delta"] = group.delta
        for name in ("figures", "figures_passed"):
            for position, figure in enumerate(getattr(self, name)):
                data[name][position]["delta"] = figure.delta
        return data


def _task_table(scores: Scores) -> dict[str, dict[str, Any]]:
    """Per task: mean score over scored trials, and the labels to break results down by."""
    table: dict[str, dict[str, Any]] = {}
    for entry in scores.episodes:
        if entry["outcome"] not in (PASSED, FAILED):
            continue
        row = table.setdefault(
            entry["task_id"],
            {
                "scores": [],
                "group": entry.get("group"),
                "actions": entry.get("gold_action_names", []),
                "episodes": [],
            },
        )
        row["scores"].append(float(entry["score"]))
        row["episodes"].append(entry)
    return {task: {**row, "score": float(np.mean(row["scores"]))} for task, row in table.items()}


def entry_figures(entry: dict[str, Any]) -> dict[str, float]:
    """The secondary figures of one episode entry (only those it records)."""
    values = figures(entry)
    if "duration_s" in entry:
        values["wall_s"] = float(entry["duration_s"])
    if entry.get("compliance"):
        values["definite_violations"] = float(definite_violations(entry))
        values["compliant"] = float(bool(entry["compliance"]["compliant"]))
    return values


def _task_figures(episodes: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean of each figure over a task's episodes (a figure only if every episode has it)."""
    per_episode = [entry_figures(e) for e in episodes]
    if not per_episode:
        return {}
    names = set.intersection(*(set(values) for values in per_episode))
    return {name: float(np.mean([values[name] for values in per_episode])) for name in names}


def _paired_figures(
    tasks: Sequence[str], base: dict[str, dict[str, float]], cand: dict[str, dict[str, float]], seed: int
) -> list[PairedFigure]:
    paired = []
    for name, label in PAIRED_FIGURES:
        shared = [t for t in tasks if name in base.get(t, {}) and name in cand.get(t, {})]
        if not shared:
            continue
        before = np.array([base[t][name] for t in shared])
        after = np.array([cand[t][name] for t in shared])
        paired.append(
            PairedFigure(
                name=name,
                label=label,
                tasks=len(shared),
                baseline=float(before.mean()),
                candidate=float(after.mean()),
                median_delta=float(np.median(after - before)),
                delta_interval=_delta_interval(before, after, seed),
            )
        )
    return paired


def _passed_only(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in row["episodes"] if e["outcome"] == PASSED]


def _interval(result: Any) -> Interval:
    low, high = result.confidence_interval
    return Interval(float(np.nan_to_num(low, nan=0.0)), float(np.nan_to_num(high, nan=0.0)))


def _mean_interval(values: np.ndarray, seed: int) -> Interval:
    if np.all(values == values[0]):
        return Interval(float(values[0]), float(values[0]))  # no spread: the interval is the point
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=seed,
    )
    return _interval(result)


def _delta_interval(base: np.ndarray, cand: np.ndarray, seed: int) -> Interval:
    differences = cand - base
    return _mean_interval(differences, seed)


def _breakdown(tasks: Sequence[str], base: dict, cand: dict, key: str) -> dict[str, GroupComparison]:
    groups: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        labels = base[task][key]
        for label in labels if isinstance(labels, list) else [labels]:
            groups[str(label)].append(task)
    return {
        label: GroupComparison(
            tasks=len(members),
            baseline=float(np.mean([base[t]["score"] for t in members])),
            candidate=float(np.mean([cand[t]["score"] for t in members])),
        )
        for label, members in sorted(groups.items())
    }


def compare_scores(baseline: Scores, candidate: Scores, alpha: float = 0.05, seed: int = 0) -> Comparison:
    """Compare `candidate` against `baseline` on the tasks both scored (of one protocol)."""
    from taugepa.results.protocols import require_same_protocol

    require_same_protocol([(baseline.path, baseline.run), (candidate.path, candidate.run)], "taugepa compare")
    base, cand = _task_table(baseline), _task_table(candidate)
    order = {task: i for i, task in enumerate(base)}
    shared = sorted(set(base) & set(cand), key=order.__getitem__)
    if not shared:
        raise ConfigError(
            f"{baseline.path} and {candidate.path} share no scored task: compare runs on the same task set"
        )
    base_scores = np.array([base[t]["score"] for t in shared])
    cand_scores = np.array([cand[t]["score"] for t in shared])
    test, p_value = paired_test(base_scores, cand_scores, seed)
    both_passed = [t for t in shared if _passed_only(base[t]) and _passed_only(cand[t])]
    figures_all = _paired_figures(
        shared,
        {t: _task_figures(base[t]["episodes"]) for t in shared},
        {t: _task_figures(cand[t]["episodes"]) for t in shared},
        seed,
    )
    figures_passed = _paired_figures(
        both_passed,
        {t: _task_figures(_passed_only(base[t])) for t in both_passed},
        {t: _task_figures(_passed_only(cand[t])) for t in both_passed},
        seed,
    )
    return Comparison(
        baseline_path=baseline.path,
        candidate_path=candidate.path,
        tasks=shared,
        baseline_rate=float(base_scores.mean()),
        candidate_rate=float(cand_scores.mean()),
        baseline_interval=_mean_interval(base_scores, seed),
        candidate_interval=_mean_interval(cand_scores, seed),
        delta_interval=_delta_interval(base_scores, cand_scores, seed),
        test=test,
        p_value=p_value,
        alpha=alpha,
        improved=[t for t in shared if cand[t]["score"] > base[t]["score"]],
        regressed=[t for t in shared if cand[t]["score"] < base[t]["score"]],
        by_group=_breakdown(shared, base, cand, "group"),
        by_action=_breakdown(shared, base, cand, "actions"),
        only_in_baseline=sorted(set(base) - set(cand), key=order.__getitem__),
        only_in_candidate=sorted(set(cand) - set(base)),
        figures=figures_all,
        figures_passed=figures_passed,
        passed_in_both=len(both_passed),
        causes=cause_shift(baseline.episodes, candidate.episodes, shared),
        compliance=compare_compliance(
            {t: base[t]["episodes"] for t in shared}, {t: cand[t]["episodes"] for t in shared}, shared, seed
        ),
    )


def comparison_lines(comparison: Comparison, max_listed: int = 20) -> list[str]:
    """A terminal report of the comparison."""
    c = comparison
    lines = [
        f"baseline : {c.baseline_path}",
        f"candidate: {c.candidate_path}",
        f"shared scored tasks: {len(c.tasks)}",
        f"pass rate baseline  {c.baseline_rate:6.1%}  95% CI [{c.baseline_interval.low:.1%}, "
        f"{c.baseline_interval.high:.1%}]",
        f"pass rate candidate {c.candidate_rate:6.1%}  95% CI [{c.candidate_interval.low:.1%}, "
        f"{c.candidate_interval.high:.1%}]",
        f"difference {c.delta:+.1%}  95% CI [{c.delta_interval.low:+.1%}, {c.delta_interval.high:+.1%}]  "
        f"{c.test} p = {c.p_value:.4g}",
        *compliance_lines(c.compliance, max_listed),
        f"verdict: {c.trade} (alpha {c.alpha})",
    ]
    for title, groups in (("by group", c.by_group), ("by gold action", c.by_action)):
        lines.append(f"{title}:")
        width = max((len(name) for name in groups), default=0)
        for name, group in groups.items():
            lines.append(
                f"  {name:<{width}}  {group.baseline:6.1%} -> {group.candidate:6.1%}  "
                f"({group.delta:+.1%}, {group.tasks} tasks)"
            )
    for title, tasks in (("improved", c.improved), ("regressed", c.regressed)):
        shown = ", ".join(tasks[:max_listed]) + (
            f" and {len(tasks) - max_listed} more" if len(tasks) > max_listed else ""
        )
        lines.append(f"{title} ({len(tasks)}): {shown or '-'}")
    lines.extend(figure_lines(c))
    lines.extend(cause_shift_lines(c.causes))
    if c.only_in_baseline or c.only_in_candidate:
        lines.append(
            f"not compared: {len(c.only_in_baseline)} tasks scored only in the baseline, "
            f"{len(c.only_in_candidate)} only in the candidate"
        )
    return lines


def _value(figure: PairedFigure, value: float, signed: bool = False) -> str:
    if figure.name in PERCENT_FIGURES:
        return f"{value:+.1%}" if signed else f"{value:.1%}"
    if figure.name == "wall_s":
        return f"{value:+.3f}" if signed else f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:+,.0f}" if signed else f"{value:,.0f}"
    return f"{value:+.3g}" if signed else f"{value:.3g}"


def figure_lines(comparison: Comparison) -> list[str]:
    """Terminal lines for the paired efficiency and compliance figures."""
    lines = []
    for title, paired in (
        (f"all {len(comparison.tasks)} shared scored tasks, all scored episodes", comparison.figures),
        (
            f"the {comparison.passed_in_both} tasks passed in both runs, passed episodes only",
            comparison.figures_passed,
        ),
    ):
        if not paired:
            continue
        lines.append(f"efficiency and compliance per episode, paired per task ({title}):")
        width = max(len(f.label) for f in paired)
        for f in paired:
            interval = f"[{_value(f, f.delta_interval.low, True)}, {_value(f, f.delta_interval.high, True)}]"
            tasks = (
                f", {f.tasks} tasks"
                if f.tasks != len(comparison.tasks) and paired is comparison.figures
                else ""
            )
            lines.append(
                f"  {f.label:<{width}}  {_value(f, f.baseline):>7} -> {_value(f, f.candidate):<7}  "
                f"{_value(f, f.delta, True)} 95% CI {interval}, median difference "
                f"{_value(f, f.median_delta, True)}{tasks}"
            )
    return lines
