"""Agents and a user that need no LLM: for checking tasks and the harness itself.

- `oracle` issues the task's gold actions, one tool call per turn, then tells the user the
  required outputs: on a sound task it must pass.
- `null` says goodbye at once: it passes exactly the tasks whose gold writes nothing and
  asks for no output (free passes).
- `ScriptedUser` opens with the task instruction and stops as soon as the agent speaks.
"""

from __future__ import annotations

import json

from taugepa.protocol import STOP_MARKER, Message
from taugepa.tasks.model import Task


class OracleAgent:
    """Replays the gold actions through the normal tool-call path, then reports the outputs."""

    def __init__(self, task: Task):
        self.task = task
        self._next = 0

    def act(self, messages: list[Message]) -> Message:
        if self._next < len(self.task.actions):
            action = self.task.actions[self._next]
            self._next += 1
            return {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_oracle_{self._next}",
                        "type": "function",
                        "function": {"name": action.name, "arguments": json.dumps(action.kwargs)},
                    }
                ],
            }
        closing = "All done."
        if self.task.outputs:
            closing += " The answer: " + "; ".join(self.task.outputs) + "."
        return {"role": "assistant", "content": closing}


class NullAgent:
    """Does nothing and ends the conversation immediately."""

    def act(self, messages: list[Message]) -> Message:
        return {"role": "assistant", "content": "Sorry, I cannot help with that. Goodbye."}


class ScriptedUser:
    """A user that states the instruction, then ends the conversation on the agent's first reply."""

    def __init__(self, task: Task):
        self.task = task

    def first_message(self) -> str:
        return self.task.instruction

    def reply(self, agent_message: str) -> str:
        return STOP_MARKER
