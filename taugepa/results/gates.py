"""CI gates: fail a run whose pass rate is too low or fell too far below a baseline.

Both gates measure passed / (passed + failed); invalid tasks and infrastructure errors
are never counted against the agent. The regression gate compares the two runs on the
tasks they share, so a run on a subset is not judged against the baseline's full set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taugepa.protocol import FAILED, PASSED
from taugepa.results.scores import Scores, pass_rate


def parse_rate(text: str, option: str) -> float:
    """Parse `0.8` or `80%` into a fraction in [0, 1]; anything else is a ValueError."""
    value = text.strip()
    scale = 100.0 if value.endswith("%") else 1.0
    try:
        rate = float(value.rstrip("%")) / scale
    except ValueError:
        raise ValueError(
            f"{option} expects a fraction such as 0.8 or a percentage such as 80%, got {text!r}"
        ) from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{option} must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return rate


def _rate(entries: Sequence[dict[str, Any]]) -> tuple[float | None, int, int]:
    passed = sum(e["outcome"] == PASSED for e in entries)
    failed = sum(e["outcome"] == FAILED for e in entries)
    return pass_rate(passed, failed), passed, failed


def min_pass_rate_breach(episodes: Sequence[dict[str, Any]], threshold: float) -> str | None:
    """The reason the run fails --min-pass-rate, or None if it meets it."""
    rate, passed, failed = _rate(episodes)
    if rate is None:
        return f"no episode was scored (0 passed, 0 failed), so --min-pass-rate {threshold:.1%} is not met"
    if rate < threshold:
        return f"pass rate {rate:.1%} ({passed}/{passed + failed}) is below --min-pass-rate {threshold:.1%}"
    return None


def regression_breach(
    episodes: Sequence[dict[str, Any]], baseline: Scores, max_regression: float
) -> str | None:
    """The reason the run regressed more than `max_regression` below the baseline, or None."""
    scored = {e["task_id"] for e in episodes if e["outcome"] in (PASSED, FAILED)}
    base_scored = {e["task_id"] for e in baseline.episodes if e["outcome"] in (PASSED, FAILED)}
    shared = scored & base_scored
    if not shared:
        return f"the baseline {baseline.path} shares no scored task with this run"
    now, passed, total = _rate([e for e in episodes if e["task_id"] in shared])
    before, base_passed, base_total = _rate([e for e in baseline.episodes if e["task_id"] in shared])
    assert now is not None and before is not None
    if now < before - max_regression - 1e-12:
        return (
            f"pass rate {now:.1%} on the {len(shared)} shared tasks is {before - now:.1%} below "
            f"the baseline's {before:.1%} ({baseline.path}); --max-regression allows {max_regression:.1%}"
        )
    return None
