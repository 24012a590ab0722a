"""A plain-Python agent around the `openai` client that writes a plan before it acts.

Each time the customer says something, the agent first asks the model for a short plan (no
tools offered), then acts turn by turn with that plan appended to the policy: the kind of
loop a team writes by hand. Run it with

    PYTHONPATH=examples/plan_and_act pytest benchmarks --agent plan_and_act:PlanAndActAgent \\
        --agent-model gpt-4.1-mini

It talks to the endpoint the run is given (--base-url, --api-key-env) with its own client, so
taugepa's retries, response cache and cost accounting do not apply to it (an agent that wants
them calls `context.complete` instead).
"""

from __future__ import annotations

import os
from typing import Any

from openai import OpenAI

from taugepa.agents import AgentContext, Reply, ToolCall
from taugepa.errors import ConfigError

PLAN_REQUEST = (
    "Before you act, write a short numbered plan for the customer's latest request: what you "
    "must look up, what the policy requires you to check or confirm, and which actions you will "
    "take, in order. Do not call any tool now."
)


class PlanAndActAgent:
    """Plans (one request without tools) after each customer message, then acts with the plan."""

    name = "plan-and-act-example"  # the episode cache keys this agent's episodes by these two
    version = "1"

    def __init__(self, context: AgentContext):
        if context.llm is None:
            raise ConfigError("plan_and_act needs a model: pass --agent-model NAME (and --base-url URL)")
        endpoint = context.llm.endpoint("agent")
        self.client = OpenAI(
            base_url=endpoint.base_url,
            api_key=os.environ.get(endpoint.api_key_env, ""),
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
        )
        self.model = context.llm.model("agent")
        self.context = context
        self.sampling: dict[str, Any] = {}
        if context.llm.temperature is not None:
            self.sampling["temperature"] = context.llm.temperature
        if context.seed is not None:
            self.sampling["seed"] = context.seed
        self.plan = ""
        self.plans = 0

    def act(self, messages: list[dict[str, Any]]) -> Reply:
        conversation = messages[1:]  # messages[0] is the harness's system prompt
        if conversation and conversation[-1]["role"] == "user":
            self.plan = self._make_plan(conversation)
        system = self.context.system_prompt + "\n\n# Your plan for this request\n" + self.plan
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, *conversation],
            tools=self.context.tools,
            **self.sampling,
        )
        message = response.choices[0].message
        calls = [
            ToolCall(call.function.name, call.function.arguments, call.id)
            for call in message.tool_calls or []
        ]
        return Reply(text=message.content, tool_calls=calls)

    def _make_plan(self, conversation: list[dict[str, Any]]) -> str:
        self.plans += 1
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": self.context.system_prompt + "\n\n" + PLAN_REQUEST},
                *conversation,
            ],
            **self.sampling,
        )
        return response.choices[0].message.content or "(no plan)"
