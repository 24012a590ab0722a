"""Agents and a user that need no LLM: for checking tasks and the harness itself.

The agents implement `taugepa.agents.Agent` like any user's agent (built from an
`AgentContext`, answering with a `Reply`): one path.

- `oracle` issues the task's gold actions, one tool call per turn, then tells the user the
  required outputs: on a sound task it must pass.
- `null` says goodbye at once: it passes exactly the tasks whose gold writes nothing and
  asks for no output (free passes).
- `ScriptedUser` opens with the task instruction and stops as soon as the agent speaks.
"""

from __future__ import annotations

from taugepa.agents.interface import AgentContext, Reply, ToolCall
from taugepa.protocol import STOP_MARKER, Message
from taugepa.tasks.model import Task


class OracleAgent:
    """Replays the gold actions through the normal tool-call path, then reports the outputs."""

    name, version = "oracle", "builtin"

    def __init__(self, context: AgentContext):
        self.task = context.task
        self._next = 0

    def act(self, messages: list[Message]) -> Reply:
        if self._next < len(self.task.actions):
            action = self.task.actions[self._next]
            self._next += 1
            return Reply(tool_calls=[ToolCall(action.name, action.kwargs, f"call_oracle_{self._next}")])
        closing = "All done."
        if self.task.outputs:
            closing += " The answer: " + "; ".join(self.task.outputs) + "."
        return Reply(text=closing)


class NullAgent:
    """Does nothing and ends the conversation immediately."""

    name, version = "null", "builtin"

    def __init__(self, context: AgentContext):
        pass

    def act(self, messages: list[Message]) -> Reply:
        return Reply(text="Sorry, I cannot help with that. Goodbye.")


class ScriptedUser:
    """A user that states the instruction, then ends the conversation on the agent's first reply."""

    def __init__(self, task: Task):
        self.task = task

    def first_message(self) -> str:
        return self.task.instruction

    def reply(self, agent_message: str) -> str:
        return STOP_MARKER
