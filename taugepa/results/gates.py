"""CI gates: fail a run whose pass rate is too low or fell too far below a baseline.

Both gates measure passed / (passed + failed); invalid tasks and infrastructure errors
are never counted against the agent. The regression gate compares the two runs on the
tasks they share, so a run on a subset is not judged against the baseline's full set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from taugepa.errors import ConfigError
from taugepa.options import Lookup, Option, given, resolve_path
from taugepa.protocol import FAILED, PASSED
from taugepa.results.scores import Scores, load_scores, pass_rate

GATE_OPTIONS: list[Option] = [
    Option("--min-pass-rate", "min_pass_rate", "fail the run below this pass rate (0.8 or 80%)"),
    Option("--baseline", "baseline", "scores file to compare against for --max-regression"),
    Option(
        "--max-regression",
        "max_regression",
        "with --baseline: fail if the pass rate drops more than this below it (default 0)",
    ),
]


@dataclass(frozen=True)
class GateSettings:
    """The gates a run must pass (none set: the run is judged by its cases alone)."""

    min_pass_rate: float | None = None
    baseline: Scores | None = None
    max_regression: float = 0.0

    @property
    def any(self) -> bool:
        return self.min_pass_rate is not None or self.baseline is not None


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome: its name as the user set it, and the reason it failed (None: held)."""

    name: str
    failure: str | None = None


def evaluate_gates(episodes: Sequence[dict[str, Any]], gates: GateSettings) -> list[GateResult]:
    """Every gate set, held or failed, in the order the verdict prints them."""
    results = []
    if gates.min_pass_rate is not None:
        reason = min_pass_rate_breach(episodes, gates.min_pass_rate)
        results.append(GateResult(f"--min-pass-rate {gates.min_pass_rate:.1%}", reason))
    if gates.baseline is not None:
        reason = regression_breach(episodes, gates.baseline, gates.max_regression)
        name = f"--baseline {gates.baseline.path} --max-regression {gates.max_regression:.1%}"
        results.append(GateResult(name, reason))
    return results


def resolve_gates(lookup: Lookup) -> GateSettings:
    """Validate the gate options (the baseline file is read and checked now, before any episode)."""
    try:
        rate_value = given(lookup, "min_pass_rate")
        min_pass_rate = parse_rate(str(rate_value), "--min-pass-rate") if rate_value else None
        regression_value = given(lookup, "max_regression")
        max_regression = parse_rate(str(regression_value), "--max-regression") if regression_value else 0.0
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    baseline_value, base = lookup("baseline")
    baseline = load_scores(resolve_path(baseline_value, base)) if baseline_value else None
    if regression_value and baseline is None:
        raise ConfigError("--max-regression needs --baseline SCORES.json to compare against")
    return GateSettings(min_pass_rate, baseline, max_regression)


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
