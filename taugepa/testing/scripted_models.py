"""The scripted models: answers that are a pure function of the request, for reproducible tests.

- `scripted-agent` plays the agent: it recognises the task from the first user message,
  calls the gold actions one per turn (counting the successful tool results in the
  transcript), then says it is done, quoting the task's required outputs. `plays` gives it
  other actions to make for a task (to break policy rules on purpose), and its `Conduct`
  says how it treats the user: by default it writes without asking, as tau-bench's gold
  does; with `confirm_writes` it lists each write and asks for a yes first; with `chatty`
  its tool calls come with a line of text.
- `scripted-user` plays the customer: it recognises the task from the instruction in the
  user simulator's system prompt, opens with the instruction, answers the agent's
  confirmation question (`Conduct.answer`, a yes by default), and stops (`###STOP###`) as
  soon as the agent says anything else.
- `extra` models (e.g. `taugepa.testing.scripted_optimizer`'s) are served by name.

Agent misbehaviour (malformed tool-call JSON, an unknown tool name, two calls in one
message: the right one and a harmless `calculate`) is drawn per request from `Faults`, after
which the scripted agent recovers.
`taugepa.testing.scripted_server` serves these models over HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taugepa.episode.user_sim import instruction_from_prompt
from taugepa.llm.config import LLMConfig
from taugepa.protocol import STOP_MARKER
from taugepa.tasks.model import Action, Task
from taugepa.world.engine import write_tool_names

AGENT_MODEL = "scripted-agent"

USER_MODEL = "scripted-user"

TRANSIENT_KINDS = ("429", "500", "503", "timeout", "disconnect", "garbage")

CONFIRM_QUESTION = "Do you confirm? Please answer yes or no."

CHATTY_LINE = "One moment, let me take care of that."

# The second call of a `parallel_calls` misbehaviour: harmless, so the episode still passes.
PARALLEL_TOOL, PARALLEL_ARGUMENTS = "calculate", {"expression": "1 + 1"}


@dataclass(frozen=True)
class Conduct:
    """How the scripted agent treats the user (the defaults are its original manners)."""

    confirm_writes: bool = False  # list each write and ask CONFIRM_QUESTION before making it
    answer: str = "Yes, please go ahead."  # what the scripted user answers to that question
    chatty: bool = False  # every tool call comes with CHATTY_LINE as text


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often (shares of requests, decided by hashing the request)."""

    rate: float = 0.0  # transient faults: answered with an error, the client must retry
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    max_in_a_row: int = 2  # one request fails at most this often in a row
    retry_after: float = 0.05  # seconds, sent with 429 and 503
    # A "timeout" holds the request, answering nothing, until the client gives up and closes
    # the connection, so that any client timeout works and no real answer, however slow on
    # a loaded machine, is ever mistaken for one; `hang` only bounds how long it waits.
    hang: float = 60.0
    malformed_arguments: float = 0.0  # agent answers whose tool-call arguments are not JSON
    unknown_tool: float = 0.0  # agent answers that call a tool that does not exist
    parallel_calls: float = 0.0  # agent answers with the right call plus a second one
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(TRANSIENT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: choose from {TRANSIENT_KINDS}")


def request_unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# An extra scripted model: (the models, the request body, its digest) -> the assistant message.
ExtraModel = Callable[["ScriptedModels", dict[str, Any], str], dict[str, Any]]


class ScriptedModels:
    """The scripted models: the answer to a request is a function of the request alone.

    `extra` adds models by name (for example the wiki-dependent agent and the reflection
    model of `taugepa.testing.scripted_optimizer`).
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        faults: Faults = Faults(),
        conduct: Conduct = Conduct(),
        plays: Mapping[str, Sequence[Action]] | None = None,
        extra: dict[str, ExtraModel] | None = None,
    ):
        self.tasks = {task.instruction: task for task in tasks}
        self.faults = faults
        self.conduct = conduct
        self.plays = dict(plays or {})  # task id -> the actions to make instead of the gold
        self.writes = write_tool_names()
        self.extra = dict(extra or {})

    @property
    def names(self) -> tuple[str, ...]:
        return (AGENT_MODEL, USER_MODEL, *self.extra)

    def answer(self, body: dict[str, Any], digest: str) -> dict[str, Any]:
        """The assistant message for a request to one of the scripted models."""
        model = body.get("model")
        if model in self.extra:
            return self.extra[model](self, body, digest)
        if model == USER_MODEL:
            return self._user(body.get("messages") or [])
        return self._agent(body.get("messages") or [], digest, offered=offered_tools(body))

    def _user(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        instruction = instruction_from_prompt(system)
        task = self.tasks.get(instruction or "")
        if task is None:
            return {"role": "assistant", "content": "I am not sure why I am here. " + STOP_MARKER}
        said_before = sum(1 for m in messages if m.get("role") == "assistant")
        if said_before == 0:
            return {"role": "assistant", "content": task.instruction}
        asked = str(messages[-1].get("content") or "") if messages[-1].get("role") == "user" else ""
        return {
            "role": "assistant",
            "content": self.conduct.answer if CONFIRM_QUESTION in asked else STOP_MARKER,
        }

    def task_of(self, messages: list[dict[str, Any]]) -> Task | None:
        """The task an agent-side conversation is about (its first user message is the instruction)."""
        first_user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        return self.tasks.get(first_user or "")

    def _agent(
        self,
        messages: list[dict[str, Any]],
        digest: str,
        plan: Sequence[Action] | None = None,
        confirm: bool | None = None,
        offered: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """Call `plan` (default: the task's plays, else its gold) one per turn, then close.

        `confirm` (default: the conduct's) asks the user for a yes before each write. Gold
        actions of tools the request does not offer (v1's `think` under tau2's protocol) are
        left out, as a model could not call them. Progress counts the successful results of
        each message's first call (a `parallel_calls` extra is not a step of the plan).
        """
        task = self.task_of(messages)
        if task is None:
            return {"role": "assistant", "content": "Sorry, I cannot tell which task this is."}
        actions = tuple(plan) if plan is not None else self.plays.get(task.id, task.actions)
        if offered is not None:
            actions = tuple(action for action in actions if action.name in offered)
        firsts = {
            str(m["tool_calls"][0].get("id"))
            for m in messages
            if m.get("role") == "assistant" and m.get("tool_calls")
        }
        done = sum(
            1
            for m in messages
            if m.get("role") == "tool"
            and str(m.get("tool_call_id")) in firsts
            and not str(m.get("content") or "").startswith("Error:")
        )
        if done >= len(actions):
            closing = "Your request has been handled."
            if task.outputs:
                closing += " The answer: " + "; ".join(task.outputs) + "."
            return {"role": "assistant", "content": closing}
        action = actions[done]
        confirm = self.conduct.confirm_writes if confirm is None else confirm
        if confirm and action.name in self.writes and not _answered(messages):
            details = f"{action.name} with {json.dumps(action.kwargs)}"
            return {"role": "assistant", "content": f"I am about to call {details}. {CONFIRM_QUESTION}"}
        call = {
            "id": f"call_{digest[:16]}_0",
            "type": "function",
            "function": {"name": action.name, "arguments": json.dumps(action.kwargs)},
        }
        last = messages[-1] if messages else {}
        recovering = last.get("role") == "tool" and str(last.get("content") or "").startswith("Error:")
        text = CHATTY_LINE if self.conduct.chatty else None
        if not recovering:
            call, extra = self._misbehave(call, digest)
            if extra:
                return {"role": "assistant", "content": text, "tool_calls": [call, *extra]}
        return {"role": "assistant", "content": text, "tool_calls": [call]}

    def _misbehave(self, call: dict[str, Any], digest: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        faults, draw = self.faults, request_unit(self.faults.seed, digest, "misbehave")
        function = call["function"]
        if draw < faults.malformed_arguments:
            bad = {**call, "function": {**function, "arguments": function["arguments"][:-1] + ",}"}}
            return bad, []
        draw -= faults.malformed_arguments
        if draw < faults.unknown_tool:
            return {**call, "function": {**function, "name": "lookup_" + function["name"]}}, []
        draw -= faults.unknown_tool
        if draw < faults.parallel_calls:  # a second, read-only call in the same message
            extra = {"name": PARALLEL_TOOL, "arguments": json.dumps(PARALLEL_ARGUMENTS)}
            return call, [{**call, "id": call["id"][:-1] + "1", "function": extra}]
        return call, []

    def misbehaviour_of(self, message: dict[str, Any]) -> str | None:
        """Which misbehaviour an answer shows (for the statistics)."""
        calls = message.get("tool_calls") or []
        if len(calls) > 1:
            return "parallel_calls"
        if calls and calls[0]["function"]["name"].startswith("lookup_"):
            return "unknown_tool"
        if calls and calls[0]["function"]["arguments"].endswith(",}"):
            return "malformed_arguments"
        return None


def offered_tools(body: dict[str, Any]) -> frozenset[str] | None:
    """The tool names a request offers (None when it sends no tools)."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return frozenset(
        str((tool.get("function") or {}).get("name")) for tool in tools if isinstance(tool, dict)
    )


def _answered(messages: list[dict[str, Any]]) -> bool:
    """Whether the user has just answered the agent's confirmation question."""
    if len(messages) < 2 or messages[-1].get("role") != "user":
        return False
    question = messages[-2]
    return question.get("role") == "assistant" and CONFIRM_QUESTION in str(question.get("content") or "")


def scripted_llm_config(base_url: str, api_key_env: str, **settings: Any) -> LLMConfig:
    """LLM settings that point both sides at a scripted server's two models."""
    models = {"agent_model": AGENT_MODEL, "user_model": USER_MODEL}
    return LLMConfig(base_url=base_url, api_key_env=api_key_env, **{**models, **settings})
