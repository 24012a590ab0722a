"""The report's task tables: per-task comparison of several runs, and each run's tasks.

One row per task with its outcome per trial, the feedback, and the transcripts behind a
click. Every string from a model, a user or a task file is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any, Protocol

from taugepa.protocol import ERROR, FAILED, INVALID, PASSED
from taugepa.results.failure_analysis import cause_label
from taugepa.results.scores import Scores
from taugepa.results.transcript import render_episode_body


class LabelledRun(Protocol):
    """A scores file under its label in the report."""

    label: str
    scores: Scores


OUTCOME_MARKS = {PASSED: "✓", FAILED: "✗", INVALID: "∅", ERROR: "!"}


def _task_order(runs: Sequence[LabelledRun]) -> list[str]:
    return list(dict.fromkeys(e["task_id"] for run in runs for e in run.scores.episodes))


def _marks(entries: Sequence[dict[str, Any]]) -> str:
    return "".join(
        f'<span class="tg-badge o-{escape(e["outcome"])}" title="trial {int(e["trial"])}: '
        f'{escape(e["outcome"])}">{OUTCOME_MARKS.get(e["outcome"], "?")}</span>'
        for e in entries
    )


def _passes(entries: Sequence[dict[str, Any]]) -> tuple[int, int]:
    scored = [e for e in entries if e["outcome"] in (PASSED, FAILED)]
    return sum(e["outcome"] == PASSED for e in scored), len(scored)


def comparison_table(runs: Sequence[LabelledRun]) -> str:
    """Every task's passes per file; with two files, which tasks were fixed or broken."""
    grouped = [run.scores.episodes_by_task() for run in runs]
    two = len(runs) == 2
    rows, changes = [], {"fixed": 0, "broken": 0, "same": 0, "not comparable": 0}
    for task_id in _task_order(runs):
        cells, rates = [], []
        for tasks in grouped:
            entries = tasks.get(task_id, [])
            passed, scored = _passes(entries)
            rates.append(passed / scored if scored else None)
            cells.append(f"<td>{_marks(entries)} {passed}/{scored}</td>" if entries else "<td>—</td>")
        change = ""
        if two:
            before, after = rates
            change = (
                "not comparable"
                if before is None or after is None
                else "fixed"
                if after > before
                else "broken"
                if after < before
                else "same"
            )
            changes[change] += 1
            cells.append(f"<td>{change}</td>")
        differs = len({rate for rate in rates}) > 1
        css = ' class="tg-changed"' if differs else ""
        rows.append(
            f'<tr{css} data-outcomes="{"changed" if differs else "same"}">'
            f'<td class="tg-id">{escape(task_id)}</td>' + "".join(cells) + "</tr>"
        )
    header = "".join(f"<th>{escape(run.label)}</th>" for run in runs) + ("<th>change</th>" if two else "")
    note = ""
    if two:
        note = (
            f"<p>From <b>{escape(runs[0].label)}</b> to <b>{escape(runs[1].label)}</b>: "
            + ", ".join(f"{count} {name}" for name, count in changes.items())
            + " (a task is fixed or broken when its share of passing trials rose or fell).</p>"
        )
    return (
        note
        + _filter_bar("compare", [("changed", "differs"), ("same", "same")])
        + f'<table class="tg" id="compare"><thead><tr><th>task</th>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _filter_bar(table_id: str, choices: Sequence[tuple[str, str]]) -> str:
    options = '<option value="">all</option>' + "".join(
        f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in choices
    )
    return (
        f'<div class="tg-filter" data-table="{escape(table_id)}">filter: '
        f'<input type="search" placeholder="task, action or text"> <select>{options}</select></div>'
    )


def task_table(run: LabelledRun, number: int) -> str:
    """One row per task: outcomes per trial, feedback, and the transcripts behind a click."""
    table_id = f"tasks-{number}"
    rescored = any("recorded" in e for e in run.scores.episodes)
    rows = []
    for task_id, entries in run.scores.episodes_by_task().items():
        entries = sorted(entries, key=lambda e: e["trial"])
        first = entries[0]
        passed, scored = _passes(entries)
        headline = _headline(entries)
        recorded_cell = ""
        if rescored:
            recorded_cell = f"<td>{_recorded(entries)}</td>"
        episodes = "".join(
            f"<h4>trial {int(e['trial'])}</h4>{_recorded_note(e)}{render_episode_body(e)}" for e in entries
        )
        outcomes = " ".join(sorted({e["outcome"] for e in entries}))
        broke = sum(1 for e in entries if (e.get("compliance") or {}).get("compliant") is False)
        if broke:
            outcomes += " broke-policy"
        rows.append(
            f'<tr data-outcomes="{escape(outcomes)}"><td class="tg-id">{escape(task_id)}</td>'
            f"<td>{escape(str(first.get('group', '')))}</td>"
            f"<td>{escape(', '.join(first.get('gold_action_names', [])))}</td>"
            f"<td>{_marks(entries)} {passed}/{scored}{_policy_mark(broke, len(entries))}</td>{recorded_cell}"
            f'<td><details class="tg-transcript" id="{escape(table_id)}-{escape(task_id)}" '
            f'data-task="{escape(task_id)}"><summary>{escape(headline)}</summary>{episodes}</details></td></tr>'
        )
    header = "<th>task</th><th>group</th><th>gold actions</th><th>outcome</th>"
    header += "<th>recorded</th>" if rescored else ""
    header += "<th>feedback (click for the transcript)</th>"
    return (
        _filter_bar(
            table_id, [*((o, o) for o in (PASSED, FAILED, INVALID, ERROR)), ("broke-policy", "broke policy")]
        )
        + f'<table class="tg" id="{escape(table_id)}"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _policy_mark(broke: int, trials: int) -> str:
    if not broke:
        return ""
    title = f"{broke} of {trials} trial(s) broke a policy rule for certain (definite violation)"
    return f' <span class="tg-sev-definite tg-policy-mark" title="{escape(title)}">⚠ policy</span>'


def _headline(entries: Sequence[dict[str, Any]]) -> str:
    """The first line of the first non-passing trial's feedback (or the pass message)."""
    worst = next((e for e in entries if e["outcome"] != PASSED), entries[0])
    lines = (worst.get("feedback") or worst["outcome"]).splitlines()
    headline = lines[0] if lines else worst["outcome"]
    failure = worst.get("failure")
    return f"[{cause_label(failure['cause'])}] {headline}" if failure else headline


def _recorded(entries: Sequence[dict[str, Any]]) -> str:
    parts = []
    for entry in entries:
        recorded = entry.get("recorded")
        if not recorded:
            continue
        reward = recorded.get("recorded_reward")
        text = "—" if reward is None else f"{reward:g}"
        css = "o-passed" if recorded.get("agrees") else "o-failed"
        title = "agrees" if recorded.get("agrees") else f"disagrees: {recorded.get('reason')}"
        parts.append(f'<span class="{css}" title="{escape(title)}">{escape(text)}</span>')
    return " ".join(parts)


def _recorded_note(entry: dict[str, Any]) -> str:
    recorded = entry.get("recorded")
    if not recorded:
        return ""
    text = f"recorded reward {json.dumps(recorded.get('recorded_reward'))}: "
    text += "agrees" if recorded.get("agrees") else f"disagrees — {recorded.get('reason')}"
    return f'<p class="tg-muted">{escape(text)}</p>'
