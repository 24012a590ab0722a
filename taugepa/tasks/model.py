"""What a task is: who the user is, what they want, and the gold actions that do it.

Plain frozen data shared by every layer above (rules, episodes, results); loading and ids
live in `taugepa.tasks.loading`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Action:
    """One gold tool call."""

    name: str
    kwargs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kwargs": self.kwargs}


@dataclass(frozen=True)
class Task:
    """One airline task: who the user is, what they want, and the gold actions that do it."""

    id: str
    set_name: str
    index: int
    user_id: str
    instruction: str
    actions: tuple[Action, ...]
    outputs: tuple[str, ...] = ()
    difficulty: str | None = None
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def action_names(self) -> list[str]:
        """Distinct gold action names, in order of first use."""
        return list(dict.fromkeys(action.name for action in self.actions))

    @property
    def group(self) -> str:
        """The group pass rates are broken down by: the difficulty, else the set name."""
        return self.difficulty or self.set_name

    def to_v1_dict(self) -> dict[str, Any]:
        """The task in tau-bench v1's format (what the task files contain)."""
        data: dict[str, Any] = {
            "user_id": self.user_id,
            "actions": [action.to_dict() for action in self.actions],
            "instruction": self.instruction,
            "outputs": list(self.outputs),
        }
        if self.difficulty is not None:
            data["difficulty"] = self.difficulty
        return data

    @property
    def content_hash(self) -> str:
        """Hash of everything that decides the task's gold and verdict (not its id)."""
        content = json.dumps(self.to_v1_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class TaskSource:
    """Where a group of tasks came from, as recorded in the scores file."""

    spec: str
    path: str
    sha256: str
    count: int


@dataclass
class TaskCollection:
    """Tasks loaded from one or more specs, in load order, with unique ids."""

    tasks: list[Task]
    sources: list[TaskSource]

    def by_id(self) -> dict[str, Task]:
        return {task.id: task for task in self.tasks}
