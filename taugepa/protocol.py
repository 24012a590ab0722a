"""The contract between the episode loop and whoever plays the agent and the user.

Messages are OpenAI chat-format dicts (system, user, assistant with optional `tool_calls`,
tool), so an LLM agent can send the transcript to any OpenAI-compatible endpoint as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

STOP_MARKER = "###STOP###"

# The four verdicts of an episode (see taugepa.episode.scoring).
PASSED, FAILED, INVALID, ERROR = "passed", "failed", "invalid", "error"
OUTCOMES = (PASSED, FAILED, INVALID, ERROR)

Message = dict[str, Any]


class Agent(Protocol):
    """Plays the airline agent: given the transcript so far, returns one assistant message."""

    def act(self, messages: list[Message]) -> Message: ...


class UserSimulator(Protocol):
    """Plays the customer described by the task's instruction."""

    def first_message(self) -> str: ...

    def reply(self, agent_message: str) -> str: ...


def has_stop_marker(text: str | None) -> bool:
    return text is not None and STOP_MARKER in text


@dataclass
class ToolCallRecord:
    """One tool call the agent made and what it got back."""

    step: int
    name: str
    arguments: Any
    result: str
    is_error: bool
    executed: bool = True  # False for calls rejected before reaching the engine

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "is_error": self.is_error,
            "executed": self.executed,
        }
