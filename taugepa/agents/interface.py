"""The agent interface: what a team's own agent implements to be benchmarked and optimized.

Per episode the harness builds the agent once from an `AgentContext` (the policy text it is
given, the tool schemas, the LLM settings, the task's seed); per turn it calls `act` with the
conversation so far and gets back text and/or tool calls. The built-in `llm`, `oracle` and
`null` agents implement the same interface: there is one path.

    class MyAgent:
        name, version = "my-agent", "1"      # optional: lets the episode cache keep its episodes

        def __init__(self, context: AgentContext): ...
        def act(self, messages: list[Message]) -> Reply: ...

`act` is synchronous: the runner's threads keep episodes concurrent. See docs/agents.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from taugepa.llm.config import LLMConfig
from taugepa.llm.usage import CallUsage
from taugepa.protocol import Message
from taugepa.tasks.model import Task


@dataclass(frozen=True)
class ToolCall:
    """One tool call: the tool's name and its arguments (a dict, or the JSON text of one)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None  # the harness numbers calls without one


@dataclass(frozen=True)
class Reply:
    """One agent turn: text for the user, tool calls for the airline tools, or both."""

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()

    def to_message(self, step: int) -> Message:
        """The assistant message in OpenAI chat format (what the transcript holds)."""
        message: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{step}_{position}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": (
                            call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
                        ),
                    },
                }
                for position, call in enumerate(self.tool_calls)
            ]
        return message


# What `act` may return: a Reply, plain text, or an assistant message in OpenAI chat format.
AgentAnswer = Reply | str | Message


@runtime_checkable
class Agent(Protocol):
    """Plays the airline agent for one episode."""

    def act(self, messages: list[Message]) -> AgentAnswer:
        """The next turn, given the conversation so far (system prompt first; do not modify it)."""
        ...


@dataclass
class AgentContext:
    """Everything an agent is built from, once per episode.

    `system_prompt` and `tools` are what the harness's own LLM agent sends under the active
    protocol (the wiki, with any demonstrations, and the airline tools' schemas); `wiki` is
    the policy text alone (what GEPA evolves). `llm` is None when the run gives no models.
    `task` is there for test agents (such as `oracle`, which replays its gold actions): an
    agent being measured learns the task from the user, never from `task`.
    """

    task: Task
    wiki: str
    system_prompt: str
    tools: list[dict[str, Any]]
    llm: LLMConfig | None = None
    seed: int | None = None  # the seed this trial's models sample with
    trial: int = 0
    max_steps: int = 30
    calls: list[CallUsage] = field(default_factory=list)  # usage of `complete`, for cost accounting
    # How the protocol's requests look (taugepa.episode.tau2_protocol): tau2's sends
    # tool_choice "auto" with its tools and writes messages as tau2 does; `complete` follows it.
    tool_choice: str | None = None
    wire_style: str = "openai"

    def complete(
        self,
        messages: list[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        model: str | None = None,
    ) -> Message:
        """One chat completion through taugepa's client (retries, deadline, cache, cost).

        Goes to the agent's endpoint and model unless `model` says otherwise; its usage and
        cost count in the episode's. A failure after the retries is an infrastructure error
        (verdict `error`), never the agent's.
        """
        from taugepa.errors import ConfigError
        from taugepa.llm.client import client_for, recorded_completion

        if self.llm is None:
            raise ConfigError("this agent calls a model: pass --agent-model NAME (and --base-url URL)")
        request: dict[str, Any] = {
            "model": model or self.llm.model("agent"),
            "messages": messages,
            "temperature": self.llm.temperature,
            "seed": self.seed,
        }
        if tools is not None:
            request["tools"] = tools
            request["tool_choice"] = self.tool_choice
        client = client_for(self.llm.endpoint("agent"))
        return recorded_completion(
            client, self.calls, side="agent", wire_style=self.wire_style, **request
        ).message


AgentFactory = Callable[[AgentContext], Agent]
F = TypeVar("F", bound=Callable[..., Any])


def declare(name: str, version: str) -> Callable[[F], F]:
    """Give a factory function the name and version the episode cache keys its episodes by.

    (A class can say `name = ...` and `version = ...` itself.) Change the version whenever
    the agent's behaviour changes, or cached episodes of the old one are reused.
    """

    def mark(factory: F) -> F:
        factory.name = name  # type: ignore[attr-defined]
        factory.version = version  # type: ignore[attr-defined]
        return factory

    return mark


def declared_identity(factory: Any) -> tuple[str, str] | None:
    """The (name, version) a factory declares, or None (then its episodes are not cached)."""
    name, version = getattr(factory, "name", None), getattr(factory, "version", None)
    if isinstance(name, str) and name and isinstance(version, str | int) and str(version):
        return name, str(version)
    return None
