"""What GEPA's reflection model reads about an episode: compact, concrete, actionable.

Reflection prompts cost money and long ones dilute the signal, so a record keeps only what
a policy editor needs: the task, what the agent did (tool calls with clipped arguments and
results, its last message), what the gold expected, the first divergence, tool errors and a
plain-language feedback line. Failures come first; a few passes are included so the
reflection also sees what already works.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from taugepa.scoring import PASSED, render_action

MAX_INSTRUCTION_CHARS = 700
MAX_CALLS = 14
MAX_ARGUMENT_CHARS = 220
MAX_RESULT_CHARS = 160
MAX_MESSAGE_CHARS = 400
PASSES_PER_BATCH = 2
NO_WRITES = "none: the database must not change"


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


def _feedback_line(entry: dict[str, Any]) -> str:
    if entry["outcome"] == PASSED:
        return "PASSED: the agent reached exactly the gold outcome. Keep whatever made this work."
    feedback = entry.get("feedback", "")
    divergence = next((line for line in feedback.splitlines() if line.startswith("First divergence")), "")
    first = divergence or (feedback.splitlines()[0] if feedback else "the episode failed")
    return f"FAILED: {first}"


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
    """Records for a batch: every scored failure, then up to `passes` passes."""
    failed = [e for e in entries if e["outcome"] == "failed"]
    passed = [e for e in entries if e["outcome"] == PASSED][:passes]
    return [reflective_record(entry) for entry in failed + passed]
