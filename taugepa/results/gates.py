"""CI gates: fail a run whose pass rate or policy compliance is too low, or fell too far below a baseline.

The pass-rate gates measure passed / (passed + failed); the compliance gates the share of
scored (passed or failed) episodes with no definite policy violation, so that an agent that
gets the database right by skipping the policy does not pass for better. Invalid tasks and
infrastructure errors are never counted against the agent. The regression gates compare the
two runs on the tasks they share, so a run on a subset is not judged against the baseline's
full set. The pytest plugin and the merged-scores gate both evaluate them here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    Option(
        "--min-compliance",
        "min_compliance",
        "fail the run if fewer scored episodes than this (0.9 or 90%) are free of definite policy violations",
    ),
    Option(
        "--max-compliance-regression",
        "max_compliance_regression",
        "with --baseline: fail if the share of compliant episodes drops more than this below it",
    ),
]


@dataclass(frozen=True)
class GateSettings:
    """The gates a run must pass (none set: the run is judged by its cases alone)."""

    min_pass_rate: float | None = None
    baseline: Scores | None = None
    max_regression: float = 0.0
    min_compliance: float | None = None
    max_compliance_regression: float | None = None  # None: compliance is not compared to the baseline

    @property
    def any(self) -> bool:
        return self.min_pass_rate is not None or self.baseline is not None or self.min_compliance is not None


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
    if gates.min_compliance is not None:
        reason = min_compliance_breach(episodes, gates.min_compliance)
        results.append(GateResult(f"--min-compliance {gates.min_compliance:.1%}", reason))
    if gates.baseline is not None and gates.max_compliance_regression is not None:
        allowed = gates.max_compliance_regression
        reason = compliance_regression_breach(episodes, gates.baseline, allowed)
        name = f"--baseline {gates.baseline.path} --max-compliance-regression {allowed:.1%}"
        results.append(GateResult(name, reason))
    return results


def resolve_gates(lookup: Lookup) -> GateSettings:
    """Validate the gate options (the baseline file is read and checked now, before any episode)."""
    try:
        rate_value = given(lookup, "min_pass_rate")
        min_pass_rate = parse_rate(str(rate_value), "--min-pass-rate") if rate_value else None
        regression_value = given(lookup, "max_regression")
        max_regression = parse_rate(str(regression_value), "--max-regression") if regression_value else 0.0
        compliance_value = given(lookup, "min_compliance")
        min_compliance = parse_rate(str(compliance_value), "--min-compliance") if compliance_value else None
        drop_value = given(lookup, "max_compliance_regression")
        max_drop = parse_rate(str(drop_value), "--max-compliance-regression") if drop_value else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    baseline_value, base = lookup("baseline")
    if regression_value and not baseline_value:
        raise ConfigError("--max-regression needs --baseline SCORES.json to compare against")
    if drop_value and not baseline_value:
        raise ConfigError("--max-compliance-regression needs --baseline SCORES.json to compare against")
    baseline = load_scores(resolve_path(baseline_value, base)) if baseline_value else None
    return GateSettings(min_pass_rate, baseline, max_regression, min_compliance, max_drop)


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
    shared, now, before = _rates_on_shared_tasks(episodes, baseline, _scored, _rate)
    if not shared:
        return f"the baseline {baseline.path} shares no scored task with this run"
    if now < before - max_regression - 1e-12:
        return (
            f"pass rate {now:.1%} on the {len(shared)} shared tasks is {before - now:.1%} below "
            f"the baseline's {before:.1%} ({baseline.path}); --max-regression allows {max_regression:.1%}"
        )
    return None


def _scored(entry: dict[str, Any]) -> bool:
    return bool(entry["outcome"] in (PASSED, FAILED))


def _judged(entry: dict[str, Any]) -> bool:
    return _scored(entry) and bool(entry.get("compliance"))


def _rates_on_shared_tasks(
    episodes: Sequence[dict[str, Any]],
    baseline: Scores,
    counts: Callable[[dict[str, Any]], bool],
    rate: Callable[[Sequence[dict[str, Any]]], tuple[float | None, int, int]],
) -> tuple[set[str], float, float]:
    """The tasks both runs count (`counts`), and `rate` of this run and of the baseline on them.

    The rates are 0.0 when no task is shared (the caller says so before comparing).
    """
    shared = {e["task_id"] for e in episodes if counts(e)} & {
        e["task_id"] for e in baseline.episodes if counts(e)
    }
    now = rate([e for e in episodes if e["task_id"] in shared])[0]
    before = rate([e for e in baseline.episodes if e["task_id"] in shared])[0]
    return shared, now or 0.0, before or 0.0


def compliance_rate(entries: Sequence[dict[str, Any]]) -> tuple[float | None, int, int]:
    """(share, compliant, judged) over the scored episodes that carry a compliance record."""
    judged = [e for e in entries if _judged(e)]
    compliant = sum(1 for e in judged if e["compliance"].get("compliant"))
    return (compliant / len(judged) if judged else None), compliant, len(judged)


def compliance_line(block: dict[str, Any] | None) -> str | None:
    """The verdict's compliance line from a summary's `compliance` block (None: the run has none)."""
    if not block or not block.get("episodes"):
        return None
    broke = block["episodes"] - block["compliant"]
    return (
        f"compliance {block['rate']:.1%} ({block['compliant']} of {block['episodes']} scored episodes "
        f"with no definite policy violation; {broke} broke a rule)"
    )


def min_compliance_breach(episodes: Sequence[dict[str, Any]], threshold: float) -> str | None:
    """The reason the run fails --min-compliance, or None if it meets it."""
    rate, compliant, judged = compliance_rate(episodes)
    if rate is None:
        return (
            "no scored episode carries a compliance record (an older scores file, or none scored), "
            f"so --min-compliance {threshold:.1%} is not met"
        )
    if rate < threshold - 1e-12:
        return (
            f"compliance {rate:.1%} ({compliant}/{judged} episodes with no definite violation) "
            f"is below --min-compliance {threshold:.1%}"
        )
    return None


def compliance_regression_breach(
    episodes: Sequence[dict[str, Any]], baseline: Scores, max_drop: float
) -> str | None:
    """The reason the run's compliance fell more than `max_drop` below the baseline's, or None."""
    shared, now, before = _rates_on_shared_tasks(episodes, baseline, _judged, compliance_rate)
    if not shared:
        return f"the baseline {baseline.path} shares no scored task with a compliance record with this run"
    if now < before - max_drop - 1e-12:
        return (
            f"compliance {now:.1%} on the {len(shared)} shared tasks is {before - now:.1%} below "
            f"the baseline's {before:.1%} ({baseline.path}); "
            f"--max-compliance-regression allows {max_drop:.1%}"
        )
    return None
