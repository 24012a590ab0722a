"""The contract between the episode loop and whoever plays the agent and the user.

Messages are OpenAI chat-format dicts (system, user, assistant with optional `tool_calls`,
tool), so an LLM agent can send the transcript to any OpenAI-compatible endpoint as is.
"""

from __future__ import annotations

from typing import Any, Protocol

STOP_MARKER = "###STOP###"

Message = dict[str, Any]


class Agent(Protocol):
    """Plays the airline agent: given the transcript so far, returns one assistant message."""

    def act(self, messages: list[Message]) -> Message: ...


class UserSimulator(Protocol):
    """Plays the customer described by the task's instruction."""

    def first_message(self) -> str: ...

    def reply(self, agent_message: str) -> str: ...


def has_stop_marker(text: str | None) -> bool:
    return bool(text) and STOP_MARKER in text
