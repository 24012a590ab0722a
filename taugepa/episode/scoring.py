"""Verdicts and feedback, exactly as tau-bench and tau2 score an episode.

Reward is 1 only if the episode ended properly, the final database equals the gold one, and
every required output appears in some agent message (case-insensitive, commas removed from
the message). Under taugepa's protocol that is tau-bench's rule: a user stop, an agent stop
or a transfer ends properly, and only messages to the user (no tool calls) count. Under
tau2's, it is tau2's default reward basis (database and communicated information): only a
user or agent stop ends properly, and any assistant message with text counts. The feedback
names what went wrong in terms a person and GEPA's reflection can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from taugepa.protocol import FAILED, PASSED, Message, ToolCallRecord
from taugepa.tasks.gold import Gold
from taugepa.tasks.model import Task
from taugepa.world.engine import write_tool_names

PROPER_ENDINGS = ("user_stop", "agent_stop", "transfer")
TAU2_PROPER_ENDINGS = ("user_stop", "agent_stop")  # tau2.evaluator.evaluator.evaluate_simulation
MAX_DIFFERENCES = 6
MAX_VALUE_CHARS = 160


@dataclass
class Verdict:
    outcome: str
    reward: float
    feedback: str
    db_match: bool
    outputs_missing: list[str] = field(default_factory=list)


def missing_outputs(
    outputs: tuple[str, ...] | list[str], messages: list[Message], *, with_tool_calls: bool = False
) -> list[str]:
    """Required outputs that no reply to the user contains (tau-bench's matching rule).

    As in tau-bench, only assistant messages that speak to the user count: text that
    accompanies a tool call is an action's preamble the user never receives. tau2 counts
    every assistant message with text (`with_tool_calls`).
    """
    said = [
        message["content"].lower().replace(",", "")
        for message in messages
        if message.get("role") == "assistant"
        and isinstance(message.get("content"), str)
        and message["content"].strip()
        and (with_tool_calls or not message.get("tool_calls"))
    ]
    return [output for output in outputs if not any(output.lower() in text for text in said)]


def score_episode(
    task: Task,
    gold: Gold,
    db_digest: str,
    messages: list[Message],
    tool_calls: list[ToolCallRecord],
    termination: str,
    *,
    protocol: str = "taugepa",
) -> Verdict:
    """The verdict of a finished episode on a valid task, by the protocol's rule."""
    tau2 = protocol == "tau2"
    db_match = db_digest == gold.db_digest
    missing = missing_outputs(task.outputs, messages, with_tool_calls=tau2)
    ended_properly = termination in (TAU2_PROPER_ENDINGS if tau2 else PROPER_ENDINGS)
    passed = ended_properly and db_match and not missing
    if passed:
        feedback = "Passed: the final database matches the gold outcome"
        if task.outputs:
            feedback += " and every required output was said"
        return Verdict(PASSED, 1.0, feedback + ".", db_match=True)
    lines = []
    if not ended_properly:
        lines.append(
            f"The episode did not end properly ({termination.replace('_', ' ')}): "
            + (
                "tau2 gives no reward unless the user ends the conversation."
                if tau2
                else "tau-bench gives no reward unless the user stops or the agent transfers."
            )
        )
    if not db_match:
        lines.extend(describe_write_difference(task, tool_calls))
    if missing:
        lines.append("Missing required outputs: " + ", ".join(json.dumps(o) for o in missing))
    lines.extend(describe_tool_errors(tool_calls))
    return Verdict(FAILED, 0.0, "\n".join(lines), db_match=db_match, outputs_missing=missing)


def expected_writes(task: Task) -> list[dict[str, Any]]:
    writes = write_tool_names()
    return [a.to_dict() for a in task.actions if a.name in writes]


def taken_writes(tool_calls: list[ToolCallRecord]) -> list[dict[str, Any]]:
    writes = write_tool_names()
    return [
        {"name": c.name, "kwargs": c.arguments}
        for c in tool_calls
        if c.executed and not c.is_error and c.name in writes
    ]


def describe_write_difference(task: Task, tool_calls: list[ToolCallRecord]) -> list[str]:
    """Expected vs taken write actions and the first place they diverge."""
    expected, taken = expected_writes(task), taken_writes(tool_calls)
    lines = ["The final database does not match the gold outcome."]
    lines.append(f"Expected writes ({len(expected)}): " + (_render_list(expected) or "none"))
    lines.append(f"Agent's writes ({len(taken)}): " + (_render_list(taken) or "none"))
    divergence = first_divergence(expected, taken)
    if divergence:
        lines.append(divergence)
    return lines


@dataclass(frozen=True)
class Divergence:
    """Where the agent's writes first depart from the gold's (`find_divergence`).

    `kind`: "different_write" (another tool at that place), "wrong_arguments" (same tool,
    other arguments: `differences` by path, `fields` their top-level names), "missing" (the
    agent stopped writing) or "extra" (it wrote more). `number` counts writes from 1.
    """

    kind: str
    number: int
    expected: dict[str, Any] | None
    taken: dict[str, Any] | None
    differences: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


def find_divergence(expected: list[dict[str, Any]], taken: list[dict[str, Any]]) -> Divergence | None:
    """The first place the agent's writes depart from the gold's (None: same writes)."""
    for number, (want, got) in enumerate(zip(expected, taken, strict=False), start=1):
        if want["name"] != got["name"]:
            return Divergence("different_write", number, want, got)
        differences = value_differences(want["kwargs"], got["kwargs"])
        if differences:
            fields = tuple(dict.fromkeys(_top_field(line) for line in differences))
            return Divergence("wrong_arguments", number, want, got, tuple(differences), fields)
    if len(expected) > len(taken):
        return Divergence("missing", len(taken) + 1, expected[len(taken)], None)
    if len(taken) > len(expected):
        return Divergence("extra", len(expected) + 1, None, taken[len(expected)])
    return None  # same writes, so the difference comes from their order or a read-side effect


def _top_field(difference: str) -> str:
    """The top-level argument a `value_differences` line is about ("passengers[0].dob: ..." -> passengers)."""
    path = difference.split(": ", 1)[0]
    return path.split(".", 1)[0].split("[", 1)[0]


def first_divergence(expected: list[dict[str, Any]], taken: list[dict[str, Any]]) -> str | None:
    """Where the agent's writes first depart from the gold's, with argument differences."""
    divergence = find_divergence(expected, taken)
    if divergence is None:
        return None
    number, want, got = divergence.number, divergence.expected, divergence.taken
    if divergence.kind == "different_write":
        assert want is not None and got is not None  # both writes exist where they differ
        return (
            f"First divergence at write {number}: expected {render_action(want)}, "
            f"but the agent called {render_action(got)}."
        )
    if divergence.kind == "wrong_arguments":
        assert want is not None
        differences = divergence.differences
        shown = "; ".join(differences[:MAX_DIFFERENCES])
        more = len(differences) - MAX_DIFFERENCES
        suffix = f"; and {more} more" if more > 0 else ""
        return f"First divergence at write {number} ({want['name']}): {shown}{suffix}."
    if divergence.kind == "missing":
        assert want is not None
        return f"First divergence at write {number}: the agent never called {render_action(want)}."
    assert got is not None  # an extra write
    return f"First divergence at write {number}: the agent made an extra write {render_action(got)}."


def value_differences(expected: Any, taken: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON values, by path."""
    expected, taken = _normalize(expected), _normalize(taken)
    if isinstance(expected, dict) and isinstance(taken, dict):
        out = []
        for key in sorted(set(expected) | set(taken), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in taken:
                out.append(f"{where}: expected {_short(expected[key])}, missing")
            elif key not in expected:
                out.append(f"{where}: not expected, got {_short(taken[key])}")
            else:
                out.extend(value_differences(expected[key], taken[key], where))
        return out
    if isinstance(expected, list) and isinstance(taken, list) and len(expected) == len(taken):
        out = []
        for index, (want, got) in enumerate(zip(expected, taken, strict=False)):
            out.extend(value_differences(want, got, f"{path}[{index}]"))
        return out
    if expected != taken:
        return [f"{path or 'value'}: expected {_short(expected)}, got {_short(taken)}"]
    return []


def describe_tool_errors(tool_calls: list[ToolCallRecord]) -> list[str]:
    errors = [c for c in tool_calls if c.is_error]
    if not errors:
        return []
    lines = [f"Tool errors the agent hit ({len(errors)}):"]
    for call in errors[:MAX_DIFFERENCES]:
        lines.append(f"- step {call.step}: {call.name} -> {_clip(call.result)}")
    if len(errors) > MAX_DIFFERENCES:
        lines.append(f"- and {len(errors) - MAX_DIFFERENCES} more")
    return lines


def render_action(action: dict[str, Any]) -> str:
    kwargs = action.get("kwargs")
    if isinstance(kwargs, dict):
        inner = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    else:
        inner = _short(kwargs)
    return f"{action['name']}({inner})"


def _render_list(actions: list[dict[str, Any]]) -> str:
    return "; ".join(render_action(a) for a in actions)


def _normalize(value: Any) -> Any:
    """Make whole floats compare equal to ints, as the engine's validation coerces them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _short(value: Any) -> str:
    return _clip(json.dumps(value, ensure_ascii=False, default=str))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
