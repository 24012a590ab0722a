"""The LLM agent: tau-bench's tool-calling agent on any OpenAI-compatible chat model.

Its system prompt is the wiki (the episode puts it first in the transcript) and its tools
are the engine's schemas. Each step sends the whole transcript and returns the model's
message as is: `run_episode` executes the first tool call, answers any further ones with
an error, turns malformed arguments and unknown tools into tool errors, and passes a plain
message to the user. So this class only talks to the model and keeps count of the cost.
"""

from __future__ import annotations

from typing import Any

from taugepa.llm.client import ChatClient, client_for, recorded_completion
from taugepa.llm.config import LLMConfig
from taugepa.llm.usage import CallUsage
from taugepa.protocol import Message


class LLMAgent:
    """One episode's agent: a chat model with the wiki as system prompt and the airline tools."""

    def __init__(
        self,
        client: ChatClient,
        model: str,
        tools: list[dict[str, Any]],
        *,
        temperature: float | None = 0.0,
        seed: int | None = None,
    ):
        self.client = client
        self.model = model
        self.tools = tools
        self.temperature = temperature
        self.seed = seed
        self.calls: list[CallUsage] = []

    def act(self, messages: list[Message]) -> Message:
        completion = recorded_completion(
            self.client,
            self.calls,
            side="agent",
            model=self.model,
            messages=messages,
            tools=self.tools,
            temperature=self.temperature,
            seed=self.seed,
        )
        return completion.message


def make_llm_agent(task: Any, wiki: str, config: Any, tools: list[dict[str, Any]]) -> LLMAgent:
    """The agent factory for `run_episode` with `agent="llm"` (config.llm must be set)."""
    llm: LLMConfig = config.llm
    return LLMAgent(
        client_for(llm.endpoint("agent")),
        llm.model("agent"),
        tools,
        temperature=llm.temperature,
        seed=llm.trial_seed(config.trial),
    )
