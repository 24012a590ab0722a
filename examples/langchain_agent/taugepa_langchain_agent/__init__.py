"""An adapter from a LangChain agent to taugepa's agent interface.

LangChain's agents are Runnables over its message types: a chat model with tools bound, a
prompt piped into one, or a LangGraph graph's model node all take a list of `BaseMessage`
and answer with an `AIMessage` whose `tool_calls` say what to run. The adapter converts
taugepa's OpenAI-format transcript into those messages and the answer back into a `Reply`,
so taugepa executes the tool calls and scores the episode as for any agent.

`LangChainAgent` wraps the Runnable `build_runnable` makes (by default `ChatOpenAI` bound to
the airline tools, talking to the run's endpoint); a team with its own chain subclasses it
and overrides `build_runnable`. Installed, the package offers it as `--agent langchain`
through its `taugepa.agents` entry point.
"""

from __future__ import annotations

import json
import os
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable

from taugepa.agents import AgentContext, Reply, ToolCall
from taugepa.errors import ConfigError


def to_langchain(messages: list[dict[str, Any]]) -> list[BaseMessage]:
    """taugepa's transcript (OpenAI chat format) as LangChain messages."""
    converted: list[BaseMessage] = []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if role == "system":
            converted.append(SystemMessage(content))
        elif role == "user":
            converted.append(HumanMessage(content))
        elif role == "tool":
            converted.append(ToolMessage(content, tool_call_id=message.get("tool_call_id", "")))
        else:
            calls = [
                {
                    "name": call["function"]["name"],
                    "args": _arguments(call["function"].get("arguments")),
                    "id": call.get("id"),
                    "type": "tool_call",
                }
                for call in message.get("tool_calls") or []
            ]
            converted.append(AIMessage(content, tool_calls=calls))
    return converted


def to_reply(answer: AIMessage) -> Reply:
    """A LangChain answer as taugepa's Reply (text and tool calls)."""
    text = answer.content if isinstance(answer.content, str) else answer.text
    calls = [ToolCall(call["name"], call["args"], call.get("id")) for call in answer.tool_calls]
    return Reply(text=text or None, tool_calls=calls)


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class LangChainAgent:
    """Any LangChain Runnable from messages to an AIMessage, as a taugepa agent."""

    name = "langchain-example"  # the episode cache keys this agent's episodes by these two
    version = "1"

    def __init__(self, context: AgentContext):
        self.context = context
        self.runnable = self.build_runnable(context)

    def build_runnable(self, context: AgentContext) -> Runnable:
        """The agent: by default the run's model through `ChatOpenAI`, with the airline tools bound."""
        from langchain_openai import ChatOpenAI

        if context.llm is None:
            raise ConfigError(
                "the langchain agent needs a model: pass --agent-model NAME (and --base-url URL)"
            )
        endpoint = context.llm.endpoint("agent")
        model = ChatOpenAI(
            model=context.llm.model("agent"),
            base_url=endpoint.base_url,
            api_key=os.environ.get(endpoint.api_key_env, ""),
            temperature=context.llm.temperature,
            seed=context.seed,
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
        )
        return model.bind_tools(context.tools)

    def act(self, messages: list[dict[str, Any]]) -> Reply:
        return to_reply(self.runnable.invoke(to_langchain(messages)))
