"""What GEPA's reflection model reads about an episode: compact, concrete, actionable.

Reflection prompts cost money and long ones dilute the signal, so a record keeps only what
a policy editor needs: the task, what the agent did (tool calls with clipped arguments and
results, its last message), what the gold expected, the first divergence, tool errors and a
plain-language feedback line. Failures come first; a few passes are included so the
reflection also sees what already works, passes that broke the policy first.

The agent's own policy violations (`taugepa.rules.compliance`) are listed with the sentence of the
policy each one breaks: a violation is concrete feedback a policy editor can act on, even on
a passed episode. One line says how long the episode took (`taugepa.episode.efficiency`). A failure's cause
(`taugepa.results.failure_analysis`) is named, and one the simulated customer or a suspect
task caused says so, so that reflection does not rewrite the policy for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from taugepa.episode.scoring import render_action
from taugepa.protocol import PASSED
from taugepa.results.failure_analysis import TASK, USER_SIMULATOR, failure_line
from taugepa.rules.compliance import DEFINITE, violation_line

MAX_INSTRUCTION_CHARS = 700
MAX_CALLS = 14
MAX_ARGUMENT_CHARS = 220
MAX_RESULT_CHARS = 160
MAX_MESSAGE_CHARS = 400
PASSES_PER_BATCH = 2
MAX_VIOLATIONS = 5
NO_WRITES = "none: the database must not change"
# What reflection must not do with a failure that is not the agent's.
NOT_THE_POLICY = {
    USER_SIMULATOR: (
        "The simulated customer caused this failure, not the agent or the policy: do not change the "
        "policy for it."
    ),
    TASK: "The audit flags this task's gold as suspect: do not change the policy to fit it.",
}


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _instruction(entry: dict[str, Any]) -> str:
    for message in entry.get("messages", []):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _agent_calls(entry: dict[str, Any]) -> list[str]:
    calls = entry.get("tool_calls", [])
    lines = []
    for call in calls[:MAX_CALLS]:
        arguments = call["arguments"]
        rendered = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        status = "ERROR " if call.get("is_error") else ""
        lines.append(
            f"{call['name']}({_clip(rendered, MAX_ARGUMENT_CHARS)}) -> {status}"
            f"{_clip(call.get('result', ''), MAX_RESULT_CHARS)}"
        )
    if len(calls) > MAX_CALLS:
        lines.append(f"... and {len(calls) - MAX_CALLS} more tool calls")
    return lines


def _last_agent_message(entry: dict[str, Any]) -> str:
    for message in reversed(entry.get("messages", [])):
        if message.get("role") == "assistant" and message.get("content"):
            return _clip(message["content"], MAX_MESSAGE_CHARS)
    return "(the agent said nothing to the user)"


def _definite(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in (entry.get("compliance") or {}).get("violations", []) if v["severity"] == DEFINITE]


def _feedback_line(entry: dict[str, Any]) -> str:
    if entry["outcome"] == PASSED:
        broken = _definite(entry)
        if broken:
            rules = ", ".join(dict.fromkeys(v["rule"] for v in broken))
            return (
                "PASSED, but the agent broke the policy on the way "
                f"({rules}): the outcome is right, the conduct is not. See Policy violations."
            )
        return "PASSED: the agent reached exactly the gold outcome. Keep whatever made this work."
    feedback = entry.get("feedback", "")
    divergence = next((line for line in feedback.splitlines() if line.startswith("First divergence")), "")
    first = divergence or (feedback.splitlines()[0] if feedback else "the episode failed")
    return f"FAILED: {first}"


def _cause(entry: dict[str, Any]) -> str:
    """The failure's cause (`taugepa.results.failure_analysis`), with what not to learn from it."""
    failure = entry.get("failure")
    if entry["outcome"] == PASSED or not failure:
        return ""
    note = NOT_THE_POLICY.get(failure.get("blame", ""), "")
    return failure_line(failure) + (f". {note}" if note else "")


def _violations(entry: dict[str, Any]) -> list[str]:
    """Definite and possible violations, worst first, each with the policy sentence it breaks."""
    found = (entry.get("compliance") or {}).get("violations", [])
    ranked = sorted(
        (v for v in found if v["severity"] in (DEFINITE, "possible")), key=lambda v: v["severity"] != DEFINITE
    )
    lines = [violation_line(v, limit=300) for v in ranked[:MAX_VIOLATIONS]]
    if len(ranked) > MAX_VIOLATIONS:
        lines.append(f"... and {len(ranked) - MAX_VIOLATIONS} more")
    return lines


def _efficiency_line(entry: dict[str, Any]) -> str:
    efficiency = entry.get("efficiency")
    if not efficiency:
        return ""
    line = (
        f"{efficiency['agent_turns']} agent turns, {efficiency['user_turns']} user turns, "
        f"{efficiency['tool_calls']} tool calls ({efficiency['tool_errors']} failed)"
    )
    if efficiency.get("tokens"):
        line += f", {efficiency['tokens']['total']:,} tokens"
    return line


def reflective_record(entry: dict[str, Any], task_instruction: str | None = None) -> dict[str, Any]:
    """One episode as a reflection record (GEPA's convention: Inputs / Generated Outputs / Feedback)."""
    expected = entry.get("expected_writes") or []
    record: dict[str, Any] = {
        "Inputs": {
            "task_id": entry["task_id"],
            "customer instruction": _clip(task_instruction or _instruction(entry), MAX_INSTRUCTION_CHARS),
        },
        "Generated Outputs": {
            "tool calls": _agent_calls(entry) or ["(no tool calls)"],
            "last message to the customer": _last_agent_message(entry),
            "how the episode ended": entry.get("termination", ""),
        },
        "Expected": {
            "gold write actions": [render_action(a) for a in expected] or [NO_WRITES],
            "required outputs": entry.get("outputs_required") or [],
        },
        "Feedback": _feedback_line(entry),
    }
    cause = _cause(entry)
    if cause:
        record["Failure cause"] = cause
    violations = _violations(entry)
    if violations:
        record["Policy violations"] = violations
    efficiency = _efficiency_line(entry)
    if efficiency:
        record["Efficiency"] = efficiency
    if entry["outcome"] != PASSED:
        details = [
            line
            for line in entry.get("feedback", "").splitlines()
            if line.startswith(("First divergence", "Missing required", "The episode did not end", "- step"))
        ]
        if details:
            record["Details"] = [_clip(line, 400) for line in details[:8]]
    return record


def reflective_records(
    entries: Sequence[dict[str, Any]], passes: int = PASSES_PER_BATCH
) -> list[dict[str, Any]]:
    """Records for a batch: every scored failure, then up to `passes` passes (rule-breaking first)."""
    failed = [e for e in entries if e["outcome"] == "failed"]
    passed = sorted((e for e in entries if e["outcome"] == PASSED), key=lambda e: not _definite(e))[:passes]
    return [reflective_record(entry) for entry in failed + passed]
