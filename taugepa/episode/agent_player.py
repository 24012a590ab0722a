"""Drives any agent through an episode: builds it, asks it for turns, checks what it answers.

Every agent, built-in or a user's, is played through `AgentPlayer`, so the episode loop sees
one thing: an assistant message per step. A `Reply` or plain text becomes that message; an
OpenAI-format assistant message passes as is. What goes wrong is sorted here:

- an exception raised inside the agent's own code (its factory or `act`, or an answer of the
  wrong type) is `AgentCrashed`: that episode's verdict is `error` with the traceback as its
  feedback, as pytest shows a test's error, and the run goes on;
- a factory that returns something without `act` is a ConfigError: the run stops with one line;
- taugepa's own errors pass through (an LLM endpoint that failed is an infrastructure error).
"""

from __future__ import annotations

import copy
import traceback
from typing import Any

from taugepa.agents.interface import AgentContext, AgentFactory, Reply
from taugepa.agents.loading import check_agent
from taugepa.errors import InfrastructureError, TaugepaError
from taugepa.guards.limits import MAX_TRACEBACK_CHARS
from taugepa.llm.answer_ends import ContextOverflow
from taugepa.protocol import Message

AGENT_ERROR = "agent_error"  # the termination of an episode whose agent raised


class AgentCrashed(Exception):
    """The agent's own code raised (or answered with something that is not a turn)."""

    def __init__(self, label: str, detail: str):
        super().__init__(detail)
        self.label = label
        self.detail = detail

    @property
    def feedback(self) -> str:
        return f"Error inside the agent {self.label} (its own code, not the harness):\n{self.detail}"


_PASS_THROUGH = (
    TaugepaError,
    InfrastructureError,
    ContextOverflow,
)  # the run's or the model's, not the agent's code


def _traceback(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc)).rstrip()
    return text if len(text) <= MAX_TRACEBACK_CHARS else "…" + text[-MAX_TRACEBACK_CHARS:]


class AgentPlayer:
    """One episode's agent, as the episode loop plays it."""

    def __init__(self, agent: Any, context: AgentContext, label: str):
        self.agent = agent
        self.context = context
        self.label = label
        self._step = 0

    @property
    def calls(self) -> list[Any]:
        """LLM usage of this episode's agent: through `AgentContext.complete`, and its own `calls`."""
        own = getattr(self.agent, "calls", None)
        return [*self.context.calls, *(own if isinstance(own, list) else [])]

    def act(self, messages: list[Message]) -> Message:
        self._step += 1
        try:
            answer = self.agent.act(agent_view(messages))
        except _PASS_THROUGH:
            raise
        except Exception as exc:  # the agent's own code: this episode's error, not the run's end
            raise AgentCrashed(self.label, _traceback(exc)) from exc
        return as_message(answer, self._step, self.label)


_KEPT = {"role", "content", "tool_calls", "tool_call_id"}


def agent_view(messages: list[Message]) -> list[Message]:
    """What an agent gets each turn: a copy of the transcript in OpenAI chat format, without the
    fields only taugepa uses (such as a user turn's finish_reason), so that the agent can send it
    to an endpoint as is and cannot rewrite the transcript. Contents are kept as they are (an
    assistant message with tool calls may have None), so that a protocol's own wire format
    (`AgentContext.complete`) gives the same request as from the transcript itself."""
    view = []
    for message in messages:
        kept = {key: value for key, value in message.items() if key in _KEPT}
        if isinstance(kept.get("tool_calls"), list):
            kept["tool_calls"] = copy.deepcopy(kept["tool_calls"])
        view.append(kept)
    return view


def build_agent(factory: AgentFactory, context: AgentContext, label: str) -> AgentPlayer:
    """Call the factory for this episode; see the module docstring for what can go wrong."""
    try:
        agent = factory(context)
    except _PASS_THROUGH:
        raise
    except Exception as exc:
        raise AgentCrashed(label, _traceback(exc)) from exc
    check_agent(agent, label)
    return AgentPlayer(agent, context, label)


def as_message(answer: Any, step: int, label: str) -> Message:
    """The assistant message an agent's answer means; AgentCrashed for anything else."""
    if isinstance(answer, Reply):
        return answer.to_message(step)
    if isinstance(answer, str):
        return {"role": "assistant", "content": answer}
    if isinstance(answer, dict) and answer.get("role", "assistant") == "assistant":
        calls = answer.get("tool_calls")
        if calls is None or (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
            return answer if "role" in answer else {"role": "assistant", **answer}
    raise AgentCrashed(
        label,
        f"act() returned {_shown(answer)}; it must return a taugepa.agents.Reply, a str, or an "
        "assistant message dict in OpenAI chat format (tool_calls a list of dicts)",
    )


def _shown(answer: Any) -> str:
    text = repr(answer)
    return f"{type(answer).__name__} {text[:120]}{'…' if len(text) > 120 else ''}"
