"""What "better" means for `taugepa compare`: pass rate up, and policy compliance not down.

A wiki that passes more tasks by skipping the policy (writing without the user's yes,
granting a refund the policy forbids) is not better. So compliance gets the same paired
test as the pass rate: per task, the share of its scored episodes with no definite violation,
compared over the tasks both runs scored with a compliance record. The verdict states the
trade in one line, such as
`pass rate +60.0 points (exact McNemar p = 1.9e-09), compliance -54.0 points (exact McNemar
p = 4.5e-08): not better`.

Verdicts: `better` (pass rate significantly up, compliance not significantly down), `not better`
(pass rate significantly up, compliance significantly down: the trade), `worse` (pass rate
significantly down, or compliance significantly down without a pass-rate gain), and
`no significant difference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

RESAMPLES = 10_000
BETTER, WORSE, NOT_BETTER, SAME = "better", "worse", "not better", "no significant difference"


def paired_test(base: np.ndarray, cand: np.ndarray, seed: int) -> tuple[str, float]:
    """Exact McNemar when every per-task value is 0 or 1, else a paired permutation test."""
    binary = np.isin(base, (0.0, 1.0)).all() and np.isin(cand, (0.0, 1.0)).all()
    if binary:
        improved = int(np.sum((base == 0) & (cand == 1)))
        regressed = int(np.sum((base == 1) & (cand == 0)))
        if improved + regressed == 0:
            return "exact McNemar", 1.0
        return "exact McNemar", float(stats.binomtest(improved, improved + regressed, 0.5).pvalue)
    if np.all(cand - base == 0):
        return "paired permutation", 1.0
    result = stats.permutation_test(
        (base, cand),
        lambda x, y: np.mean(y - x),
        permutation_type="samples",
        n_resamples=RESAMPLES,
        random_state=seed,
    )
    return "paired permutation", float(result.pvalue)


def direction(delta: float, p_value: float, alpha: float) -> str:
    """`better`, `worse` or `no significant difference` for one figure (higher is better)."""
    if p_value >= alpha or delta == 0:
        return SAME
    return BETTER if delta > 0 else WORSE


@dataclass
class ComplianceComparison:
    """The share of compliant episodes of both runs over the tasks both scored with compliance."""

    tasks: int
    baseline: float
    candidate: float
    test: str
    p_value: float
    became_compliant: list[str]
    broke_the_policy: list[str]  # tasks compliant in the baseline that the candidate's episodes broke

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


def _task_compliance(episodes: Sequence[dict[str, Any]]) -> float | None:
    judged = [e for e in episodes if e.get("compliance")]
    if not judged or len(judged) != len(episodes):
        return None
    return float(np.mean([bool(e["compliance"].get("compliant")) for e in judged]))


def compare_compliance(
    base: Mapping[str, Sequence[dict[str, Any]]],
    cand: Mapping[str, Sequence[dict[str, Any]]],
    tasks: Sequence[str],
    seed: int,
) -> ComplianceComparison | None:
    """The paired compliance comparison over `tasks` (None: no shared task has a compliance record)."""
    before, after, names = [], [], []
    for task in tasks:
        b, c = _task_compliance(base[task]), _task_compliance(cand[task])
        if b is not None and c is not None:
            before.append(b)
            after.append(c)
            names.append(task)
    if not names:
        return None
    base_values, cand_values = np.array(before), np.array(after)
    test, p_value = paired_test(base_values, cand_values, seed)
    return ComplianceComparison(
        tasks=len(names),
        baseline=float(base_values.mean()),
        candidate=float(cand_values.mean()),
        test=test,
        p_value=p_value,
        became_compliant=[t for t, b, c in zip(names, before, after, strict=True) if c > b],
        broke_the_policy=[t for t, b, c in zip(names, before, after, strict=True) if c < b],
    )


def overall_verdict(pass_rate: str, compliance: str | None) -> str:
    """Both directions into one verdict: better passes more without breaking the policy more."""
    if compliance == WORSE:
        return NOT_BETTER if pass_rate == BETTER else WORSE
    return pass_rate


def _points(delta: float) -> str:
    return f"{delta * 100:+.1f} points".replace("-", "\N{MINUS SIGN}")


def trade_text(
    delta: float, test: str, p_value: float, compliance: ComplianceComparison | None, verdict: str
) -> str:
    """`pass rate +12.0 points (exact McNemar p = 0.01), compliance -54.0 points (...): not better`."""
    text = f"pass rate {_points(delta)} ({test} p = {p_value:.2g})"
    if compliance is None:
        text += ", compliance not recorded in both runs"
    else:
        text += f", compliance {_points(compliance.delta)} ({compliance.test} p = {compliance.p_value:.2g})"
    return f"{text}: {verdict}"


def compliance_lines(compliance: ComplianceComparison | None, max_listed: int = 20) -> list[str]:
    """The terminal lines of the compliance comparison, under the pass rate's."""
    if compliance is None:
        return ["compliance: not compared (an older scores file without compliance records)"]
    c = compliance
    lines = [
        f"compliance baseline  {c.baseline:6.1%}  candidate {c.candidate:6.1%}  "
        f"(episodes with no definite policy violation, {c.tasks} tasks)",
        f"compliance difference {c.delta:+.1%}  {c.test} p = {c.p_value:.4g}",
    ]
    if c.broke_the_policy:
        shown = ", ".join(c.broke_the_policy[:max_listed])
        more = (
            f" and {len(c.broke_the_policy) - max_listed} more"
            if len(c.broke_the_policy) > max_listed
            else ""
        )
        lines.append(
            f"broke the policy where the baseline did not ({len(c.broke_the_policy)}): {shown}{more}"
        )
    return lines
