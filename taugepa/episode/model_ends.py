"""Episodes that end at the model's limits: a request that no longer fits, a cut, filtered or refused answer.

`taugepa.llm.answer_ends` classifies what the provider said; this module turns it into the
episode's record (`EpisodeResult.model_end`, in the scores file) and the first line of its
feedback. Whose limit it was decides the verdict: the agent's model (the candidate wiki, the
agent's own answers) makes the episode `failed`, scored like any episode that did not end
properly; the user simulator's makes it `error`, never the agent's fault.
"""

from __future__ import annotations

import json
from typing import Any

from taugepa.llm.answer_ends import (
    ANSWER_CUT,
    CONTENT_FILTER,
    CONTEXT_OVERFLOW,
    REFUSAL,
    ContextOverflow,
)
from taugepa.protocol import Message

MAX_REFUSAL_CHARS = 200


def overflow_record(
    exc: ContextOverflow,
    agent_messages: list[Message],
    tools: list[dict[str, Any]],
    user: Any,
    agent: Any = None,
) -> dict[str, Any]:
    """What overflowed, by how much, and what grew: the wiki, the tools or the conversation.

    On the side's first request to its model (no call recorded yet) the fixed parts are what
    grew, the larger of them named; later, the conversation did.
    """
    if exc.side == "agent":
        messages = agent_messages
        fixed = {"wiki": len(str(messages[0].get("content") or "")) if messages else 0}
        fixed["tools"] = len(json.dumps(tools, ensure_ascii=False))
    else:
        messages = list(getattr(user, "messages", []) or [])
        fixed = {"user prompt": len(str(messages[0].get("content") or "")) if messages else 0}
    conversation = sum(
        len(str(m.get("content") or "")) + len(json.dumps(m.get("tool_calls") or "")) for m in messages[1:]
    )
    player = agent if exc.side == "agent" else user
    first_request = not getattr(player, "calls", None)
    grew = max(fixed, key=lambda name: fixed[name]) if first_request else "conversation"
    return {
        "side": exc.side,
        "termination": CONTEXT_OVERFLOW,
        "model": exc.model,
        "limit_tokens": exc.limit,
        "requested_tokens": exc.requested,
        "over_tokens": exc.over,
        "grew": grew,
        "sizes_chars": {**fixed, "conversation": conversation},
        "detail": exc.detail,
    }


def answer_record(side: str, end: str, message: Message) -> dict[str, Any]:
    record: dict[str, Any] = {"side": side, "termination": end, "finish_reason": message.get("finish_reason")}
    if message.get("refusal"):
        record["refusal"] = str(message["refusal"])
    return record


def end_line(record: dict[str, Any]) -> str:
    """The first line of the episode's feedback: whose limit, which, and how much."""
    who = "agent" if record["side"] == "agent" else "user simulator"
    end = record["termination"]
    if end == CONTEXT_OVERFLOW:
        over, limit, requested = (
            record.get("over_tokens"),
            record.get("limit_tokens"),
            record.get("requested_tokens"),
        )
        amount = (
            f"{requested:,} tokens for a context of {limit:,} ({over:,} over)"
            if over is not None
            else "more than the model's context"
        )
        sizes = ", ".join(f"{name} {size:,} chars" for name, size in record["sizes_chars"].items())
        text = (
            f"The {who} model's request no longer fits its context (context_overflow): {amount}; "
            f"what grew: the {record['grew']} ({sizes})."
        )
    elif end == ANSWER_CUT:
        text = (
            f"The {who} model's answer was cut at its token limit (finish_reason length), "
            "again when asked once more (answer_cut)."
        )
    elif end == CONTENT_FILTER:
        text = (
            f"The provider's content filter withheld the {who} model's answer (finish_reason content_filter)."
        )
    elif end == REFUSAL:
        said = str(record.get("refusal") or "")
        said = said if len(said) <= MAX_REFUSAL_CHARS else said[: MAX_REFUSAL_CHARS - 1] + "…"
        text = f"The {who} model refused (refusal): {json.dumps(said, ensure_ascii=False)}."
    else:
        text = f"The {who} model ended the episode ({end})."
    if record["side"] != "agent":
        text += " Not the agent's fault."
    return text


def turn_fields(message: Message | None) -> dict[str, Any]:
    """The finish_reason and refusal of a user simulator's answer, for its turn in the transcript."""
    if not message:
        return {}
    return {name: message[name] for name in ("finish_reason", "refusal") if message.get(name)}
