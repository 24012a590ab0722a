"""tau2's own airline environment following an episode's tool calls, for the export to tau2.

tau2's evaluator (`Environment.set_state`) replays every tool call of a trajectory and refuses
the trajectory when a result differs from the recorded one. `Replayer.check` asks tau2's
environment each call in conversation order: the calls it answers as recorded stay applied;
one it answers differently is undone (the environment is rebuilt from the calls kept), so
the calls the export keeps are exactly those tau2 will replay to the same database.
"""

from __future__ import annotations

import json
from typing import Any


class Replayer:
    """tau2's airline environment, following one episode's tool calls in order."""

    def __init__(self) -> None:
        self.env: Any = None
        self.kept: list[tuple[str, dict[str, Any]]] = []
        self.tool_names: set[str] = set()

    def start(self) -> None:
        self.env, self.kept = None, []

    def _environment(self) -> Any:
        if self.env is None:
            from tau2.data_model.message import ToolCall
            from tau2.domains.airline.environment import get_environment

            self.env = get_environment(db=_fresh_database())
            self.tool_names = {tool.name for tool in self.env.get_tools()}
            for name, arguments in self.kept:
                self.env.get_response(ToolCall(id="replay", name=name, arguments=arguments))
        return self.env

    def check(self, name: str, arguments: Any, recorded: str, executed: bool) -> str | None:
        """None when tau2 answers the call as recorded (it then stays applied), else why not."""
        from tau2.data_model.message import ToolCall

        if not executed:
            return "refused by taugepa before reaching the engine"
        if not isinstance(arguments, dict):
            return "arguments that are not a JSON object"
        env = self._environment()
        if name not in self.tool_names:
            return f"not a tau2 airline tool ({name})" if name == "think" else "not a tau2 airline tool"
        response = env.get_response(ToolCall(id="check", name=name, arguments=arguments))
        if _same(response.content, recorded):
            self.kept.append((name, arguments))
            return None
        self.env = None  # undo whatever tau2 did with it: rebuilt from the calls kept
        return "answered differently by tau2 than by taugepa's engine"


_PRISTINE: list[bytes] = []


def _fresh_database() -> Any:
    """tau2's airline database as it ships: unpickled from a copy (faster than loading the JSON)."""
    import pickle

    if not _PRISTINE:
        from tau2.domains.airline.data_model import FlightDB
        from tau2.domains.airline.utils import AIRLINE_DB_PATH

        _PRISTINE.append(pickle.dumps(FlightDB.load(AIRLINE_DB_PATH)))
    return pickle.loads(_PRISTINE[0])


def _same(tau2_content: Any, recorded: str) -> bool:
    """tau2's own comparison (Environment.set_state): JSON values when both parse, else text."""

    def value(text: Any) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            return text

    return bool(value(tau2_content) == value(recorded))
