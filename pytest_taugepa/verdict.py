"""The last lines of a benchmark run: pass rate, counts, gates and why pytest exits as it does.

pytest's own last line counts test cases (`31 failed, 19 passed`), which is not the verdict
of a gated run, and the failure list above it can be long. The reporter prints these lines
after pytest's last line, so that the end of the output is the answer. Long failures are
shortened to one line each by default (`one_line_failure`); `-v` or `--tb=long` (and the
scores file, and `--html`) give the full feedback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from taugepa.results.failure_analysis import USER_SIMULATOR, cause_label, causes_line
from taugepa.results.gates import GateResult

MAX_FAILURE_CHARS = 240
_DETAIL_PREFIXES = ("Expected writes (", "Agent's writes (", "- ")
_DB_MISMATCH = "The final database does not match the gold outcome."


def compact_failures(config: pytest.Config) -> bool:
    """Agent failures get one line unless the user asked for detail (-v, or an explicit --tb)."""
    return config.option.tbstyle == "auto" and config.get_verbosity() < 1


def one_line_failure(
    feedback: str, compliance: dict[str, Any] | None = None, failure: dict[str, Any] | None = None
) -> str:
    """The failure's cause, the feedback without the long action listings on one clipped line,
    then the rules broken."""
    kept = [
        line.strip()
        for line in feedback.splitlines()
        if line.strip() and not line.strip().startswith(_DETAIL_PREFIXES)
    ]
    if any(line.startswith("First divergence") for line in kept):
        kept = [line for line in kept if line != _DB_MISMATCH]  # the divergence says it better
    text = _clip(" ".join(kept), MAX_FAILURE_CHARS)
    if failure:
        blame = " [user simulator]" if failure.get("blame") == USER_SIMULATOR else ""
        text = f"[{cause_label(failure['cause'])}{blame}] {text}"
    broken = [
        f"{v['rule']} (turn {v['turn']}" + (f", {v['action']})" if v.get("action") else ")")
        for v in (compliance or {}).get("violations", [])
        if v["severity"] == "definite"
    ]
    if broken:
        text += " · definite policy violations: " + _clip(", ".join(broken), MAX_FAILURE_CHARS // 2)
    return text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rate_text(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def counts_text(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    return (
        f"({counts['passed']} passed, {counts['failed']} failed) · {counts['invalid']} invalid · "
        f"{counts['error']} errors (invalid and errors are not counted)"
    )


@dataclass
class RunState:
    """What the verdict needs to know about how the run ended."""

    summary: dict[str, Any] | None  # None when no episode was collected
    exit_status: int
    gates: list[GateResult]
    other_failures: int = 0  # failed cases that are not an agent's failed episode
    scores_file: str | None = None
    config_error: str | None = None
    interrupted: dict[str, Any] | None = None  # {"episodes_done", "episodes_planned", "reason"}
    stopped: dict[str, Any] | None = None  # the --max-cost stop, as in the scores file
    compact: bool = False  # failures above were shortened to one line


def verdict_lines(state: RunState) -> list[str]:
    """The closing block: what the run measured, each gate, and the exit status with its reason."""
    summary = state.summary
    if state.config_error:  # pytest has printed it once ("Interrupted: taugepa: ...")
        return [
            f"FAIL (exit status {int(state.exit_status)}): the run stopped on the configuration error "
            "above; fix it and rerun (no scores file was written)"
        ]
    if summary is None:
        done = " (interrupted before any episode finished)" if state.interrupted else ""
        return [f"taugepa: no episode ran{done}; no scores file was written"]
    lines = []
    if state.interrupted:
        lines.append(interrupted_line(state.interrupted, summary, state.scores_file))
        return lines
    lines.append(f"pass rate {rate_text(summary['pass_rate'])} {counts_text(summary)}")
    causes = causes_line(summary)
    if causes:
        lines.append(causes)
    if state.stopped:
        lines.append(stopped_line(state.stopped, summary))
    for gate in state.gates:
        lines.append(f"gate failed: {gate.failure}" if gate.failure else f"gate passed: {gate.name}")
    if state.compact and summary["counts"]["failed"]:
        lines.append(
            "each failure above is one line: -v or --tb=long shows the full feedback, "
            "as do the scores file and --html"
        )
    if state.scores_file:
        lines.append(f"scores file: {state.scores_file}")
    lines.append(exit_line(state))  # the last line: the answer
    return lines


def interrupted_line(interrupted: dict[str, Any], summary: dict[str, Any], scores_file: str | None) -> str:
    done, planned = interrupted["episodes_done"], interrupted["episodes_planned"]
    of_planned = f" of {planned}" if planned else ""
    where = f"; {scores_file} is marked interrupted" if scores_file else ""
    return (
        f"taugepa: INTERRUPTED after {done}{of_planned} episodes: no verdict (the pass rate of the "
        f"finished ones, {rate_text(summary['pass_rate'])}, is not the run's){where}"
    )


def stopped_line(stopped: dict[str, Any], summary: dict[str, Any]) -> str:
    spent = summary.get("usage", {}).get("cost_usd")
    spent_text = f"; the run spent ${spent:.4f} in all (episodes in flight finished)" if spent else ""
    return (
        f"stopped starting new episodes: {stopped['reason']}{spent_text}; "
        f"{stopped['episodes_not_started']} episodes not run (the scores file is partial)"
    )


def exit_line(state: RunState) -> str:
    """`PASS (exit status 0): why` or `FAIL (exit status N): why`."""
    status = int(state.exit_status)
    counts = state.summary["counts"] if state.summary else {}
    failed_gates = [gate for gate in state.gates if gate.failure]
    if status == pytest.ExitCode.OK:
        if state.gates and counts.get("failed"):
            why = (
                f"every gate holds; with a gate set, failed episodes alone do not fail the run "
                f"({_episodes(counts['failed'])} failed)"
            )
        elif state.gates:
            why = "every gate holds"
        else:
            why = "no case failed"
        return f"PASS (exit status 0): {why}"
    reasons = []
    for gate in failed_gates:
        reasons.append(f"the gate {gate.name} failed")
    if state.stopped:
        reasons.append("the run was cut short by --max-cost")
    if counts.get("error"):
        reasons.append(f"{_episodes(counts['error'])} ended in infrastructure errors (not the agent's fault)")
    if state.other_failures:
        reasons.append(f"{state.other_failures} failure(s) that are not an agent's failed episode")
    if counts.get("failed") and not state.gates:
        reasons.append(
            f"{_episodes(counts['failed'])} failed and no gate is set "
            "(--min-pass-rate or --baseline let the pass rate decide)"
        )
    if not reasons:
        reasons.append("see pytest's report above")
    return f"FAIL (exit status {status}): " + "; ".join(reasons)


def _episodes(count: int) -> str:
    return f"{count} episode" if count == 1 else f"{count} episodes"
