"""The LLM agent: tau-bench's tool-calling agent on any OpenAI-compatible chat model.

Written against `taugepa.agents` like any user's agent. Its system prompt and tools are the
ones the episode built for the active protocol (the transcript starts with the system
prompt; `context.tools` are the engine's schemas). Each step sends the whole transcript
through `AgentContext.complete` (taugepa's client: retries, cache, cost) and returns the
model's message as is: `run_episode` executes the tool calls, turns malformed arguments and
unknown tools into tool errors, and passes a plain message to the user.
"""

from __future__ import annotations

from taugepa.agents.interface import AgentContext
from taugepa.errors import ConfigError
from taugepa.protocol import Message


class LLMAgent:
    """One episode's agent: a chat model with the wiki as system prompt and the airline tools."""

    name, version = "llm", "builtin"

    def __init__(self, context: AgentContext):
        if context.llm is None:
            raise ConfigError("the llm agent needs models: pass --agent-model NAME (HarnessSettings.llm)")
        self.context = context

    def act(self, messages: list[Message]) -> Message:
        return self.context.complete(messages, tools=self.context.tools)


def make_llm_agent(context: AgentContext) -> LLMAgent:
    """The `llm` agent's factory (kept under its old name)."""
    return LLMAgent(context)
