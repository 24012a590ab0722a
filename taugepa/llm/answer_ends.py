"""How a provider says an answer could not be had: the request did not fit, or the answer was cut,
filtered or refused.

None of these is the endpoint failing (retrying the same request elsewhere would not help) nor a
wrong configuration: they are the limits of the model the run uses, and an episode that meets
one ends with its own termination (`taugepa.episode.run`):

- `context_overflow`: HTTP 400 with `context_length_exceeded` (OpenAI, Azure, vLLM, LiteLLM say
  it this way or in the message text): the request no longer fits the model's context;
- `answer_cut`: `finish_reason: "length"`, the answer stopped at the token limit (its tool-call
  arguments are often half a JSON object); the client asks once more, then reports it;
- `content_filter`: `finish_reason: "content_filter"`, the provider withheld the answer;
- `refusal`: a `refusal` text and nothing else (OpenAI's structured refusals).

Kept apart from `taugepa.llm.client` (retries, rate limits) on purpose: this module only
classifies.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from taugepa.llm.usage import CallUsage

CONTEXT_OVERFLOW, ANSWER_CUT, CONTENT_FILTER, REFUSAL = (
    "context_overflow",
    "answer_cut",
    "content_filter",
    "refusal",
)
MODEL_ENDS = (CONTEXT_OVERFLOW, ANSWER_CUT, CONTENT_FILTER, REFUSAL)
# How each end reads in a line for the user ("2 ended by context overflow").
END_LABELS = {
    CONTEXT_OVERFLOW: "context overflow",
    ANSWER_CUT: "cut answer",
    CONTENT_FILTER: "content filter",
    REFUSAL: "refusal",
}
OVERFLOW_CODES = frozenset({"context_length_exceeded", "string_above_max_length", "request_too_large"})
OVERFLOW_TEXT = re.compile(
    r"maximum context length|context length|context window|too many tokens|prompt is too long|"
    r"input is too long|reduce the length",
    re.IGNORECASE,
)
_LIMIT = re.compile(r"maximum context length is (\d+)", re.IGNORECASE)
_REQUESTED = re.compile(
    r"resulted in (\d+) tokens|requested (\d+) tokens|(\d+) tokens > (\d+)", re.IGNORECASE
)


class ContextOverflow(Exception):
    """The request does not fit the model's context; `limit` and `requested` in tokens when said."""

    def __init__(self, side: str, model: str, detail: str, limit: int | None, requested: int | None):
        super().__init__(detail)
        self.side = side
        self.model = model
        self.detail = detail
        self.limit = limit
        self.requested = requested

    @property
    def over(self) -> int | None:
        if self.limit is None or self.requested is None:
            return None
        return self.requested - self.limit


def context_overflow(status: int, body: Any, side: str, model: str, message: str) -> ContextOverflow | None:
    """A ContextOverflow if an HTTP error answer says the request was too long, else None."""
    if status not in (400, 413):
        return None
    error = body.get("error", body) if isinstance(body, dict) else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    if code not in OVERFLOW_CODES and not OVERFLOW_TEXT.search(message):
        return None
    limit_match = _LIMIT.search(message)
    limit = int(limit_match.group(1)) if limit_match else None
    requested = None
    requested_match = _REQUESTED.search(message)
    if requested_match:
        groups = [g for g in requested_match.groups() if g]
        requested = int(groups[0])
        if limit is None and len(groups) > 1:
            limit = int(groups[1])
    return ContextOverflow(side, model, message, limit, requested)


def answer_end(message: dict[str, Any] | None) -> str | None:
    """The way an assistant message ends an episode (`answer_cut`, `content_filter`, `refusal`), or None.

    A refusal that comes with content or tool calls is kept as said, not an end.
    """
    if not message:
        return None
    finish = message.get("finish_reason")
    if finish == "length":
        return ANSWER_CUT
    if finish == "content_filter":
        return CONTENT_FILTER
    if message.get("refusal") and not message.get("content") and not message.get("tool_calls"):
        return REFUSAL
    return None


def cacheable(message: dict[str, Any]) -> bool:
    """A cut or filtered answer is never cached as an answer (a rerun asks again)."""
    return message.get("finish_reason") not in ("length", "content_filter")


def ends_text(ends: dict[str, int]) -> str:
    """`2 ended by context overflow, 1 by refusal` (empty when none)."""
    parts = [f"{count} by {END_LABELS.get(end, end)}" for end, count in ends.items() if count]
    return ("ended " + ", ".join(parts)) if parts else ""


def with_cut_attempt(cut: CallUsage, answer: CallUsage) -> CallUsage:
    """The usage of an answer asked for again after a cut one: both attempts were paid for."""
    cost = None if cut.cost_usd is None or answer.cost_usd is None else cut.cost_usd + answer.cost_usd
    return replace(
        answer,
        prompt_tokens=cut.prompt_tokens + answer.prompt_tokens,
        completion_tokens=cut.completion_tokens + answer.completion_tokens,
        cached_tokens=cut.cached_tokens + answer.cached_tokens,
        reasoning_tokens=cut.reasoning_tokens + answer.reasoning_tokens,
        cost_usd=cost,
    )
