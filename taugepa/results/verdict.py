"""The closing block of a benchmark run: pass rate, counts, gates and why the run exits as it does.

pytest's own last line counts test cases (`31 failed, 19 passed`), which is not the verdict
of a gated run. The pytest plugin prints these lines after pytest's last line, and
`taugepa gate` prints the same block for a scores file (a merged one from shards, say), from
the same functions: one verdict, one exit status, wherever a run is judged.

The exit statuses are pytest's (`pytest.ExitCode`), so a CI job reads `taugepa gate` as it
reads `pytest`; they are plain numbers here so that this layer does not import pytest.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from taugepa.llm.answer_ends import ends_text
from taugepa.results.failure_analysis import causes_line
from taugepa.results.gates import GateResult, GateSettings, compliance_line, evaluate_gates
from taugepa.results.scores import Scores, summarize

EXIT_OK = 0  # pytest.ExitCode.OK
EXIT_TESTS_FAILED = 1  # pytest.ExitCode.TESTS_FAILED: a failed case, or a failed gate
EXIT_INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED: Ctrl-C, or a run cut short by --max-cost
VERDICT_TITLE = "taugepa verdict"


def gated_exit_status(status: int, gates: Sequence[GateResult], other_failures: int) -> int:
    """The exit status once the gates have judged a whole run that would exit with `status`.

    A failed gate fails a run that had no failed case; with every gate holding, failed
    episodes alone do not fail it (the gate decides), but any other failure still does.
    """
    failed = any(gate.failure for gate in gates)
    if failed and status == EXIT_OK:
        return EXIT_TESTS_FAILED
    if gates and not failed and status == EXIT_TESTS_FAILED and not other_failures:
        return EXIT_OK
    return status


def judge_scores(scores: Scores, gates: GateSettings) -> RunState:
    """How pytest would have ended the run this scores file records, with `gates` set.

    The exit status before the gates is pytest's: a failed or errored episode is a failed case,
    an invalid one a skip; a run cut short (Ctrl-C, --max-cost) exits as interrupted, and a
    Ctrl-C'd one is not gated at all. The summary is recomputed from the episodes.
    """
    summary = summarize(scores.episodes) if scores.episodes else None
    counts = summary["counts"] if summary else {}
    if scores.interrupted or scores.stopped:
        status = EXIT_INTERRUPTED
    else:
        status = EXIT_TESTS_FAILED if counts.get("failed") or counts.get("error") else EXIT_OK
    results = [] if scores.interrupted or summary is None else evaluate_gates(scores.episodes, gates)
    stopped = scores.stopped
    return RunState(
        summary=summary,
        # an errored episode is a failed case that is not the agent's: the gates do not excuse it
        exit_status=gated_exit_status(status, results, counts.get("error", 0)),
        gates=results,
        scores_file=scores.path,
        interrupted=scores.interrupted,
        stopped=(
            {"reason": stopped.get("reason"), "episodes_not_started": stopped.get("episodes_not_started")}
            if stopped
            else None
        ),
    )


def terminal_width() -> int:
    """The width pytest's terminal writer uses (80 when there is no terminal, or COLUMNS)."""
    width = shutil.get_terminal_size(fallback=(80, 24)).columns
    return width if width >= 40 else 80


def separator(title: str, width: int) -> str:
    """A title line as pytest's terminal writes it (`write_sep("=", title)`) at `width` columns."""
    fill = "=" * max((width - len(title) - 2) // 2, 1)
    line = f"{fill} {title} {fill}"
    return line + "=" if len(line) + 1 <= width else line


def rate_text(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def counts_text(summary: dict[str, Any]) -> str:
    """The counts after a pass rate, and how many episodes a model's limit ended (overflow, cut...)."""
    counts = summary["counts"]
    ended = ends_text(summary.get("ended") or {})
    return (
        f"({counts['passed']} passed, {counts['failed']} failed) · {counts['invalid']} invalid · "
        f"{counts['error']} errors (invalid and errors are not counted)" + (f" · {ended}" if ended else "")
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
    unwritten: list[str] = field(default_factory=list)  # outputs not written (a full disk), one line each


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
        lines.extend(f"taugepa: error: {line}" for line in state.unwritten)
        return lines
    lines.append(f"pass rate {rate_text(summary['pass_rate'])} {counts_text(summary)}")
    compliance = compliance_line(summary.get("compliance"))
    if compliance:
        lines.append(compliance)
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
    lines.extend(f"taugepa: error: {line}" for line in state.unwritten)
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
    if status == EXIT_OK:
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
    if state.unwritten:  # first: the run's output is incomplete, whatever the episodes did
        reasons.append(f"{len(state.unwritten)} output(s) could not be written (see above)")
    for gate in failed_gates:
        reasons.append(f"the gate {gate.name} failed")
    if state.stopped:
        cost = str(state.stopped.get("reason", "")).startswith("--max-cost")
        reasons.append(
            "the run was cut short by --max-cost" if cost else "the run was stopped early (see above)"
        )
    if counts.get("error"):
        reasons.append(f"{_episodes(counts['error'])} ended in infrastructure errors (not the agent's fault)")
    if state.other_failures:
        reasons.append(f"{state.other_failures} failure(s) that are not an agent's failed episode")
    if counts.get("failed") and not state.gates:
        reasons.append(
            f"{_episodes(counts['failed'])} failed and no gate is set "
            "(--min-pass-rate, --min-compliance or --baseline let the figures decide)"
        )
    if not reasons:
        reasons.append("see pytest's report above")
    return f"FAIL (exit status {status}): " + "; ".join(reasons)


def _episodes(count: int) -> str:
    return f"{count} episode" if count == 1 else f"{count} episodes"
