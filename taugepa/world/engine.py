"""The airline world: tau2's airline tools over a per-episode, copy-on-write database.

Parsing tau2's 7 MB database into its models takes ~200 ms and hashing all of it ~60 ms,
so an episode must neither re-read nor re-hash it. `AirlineWorld` reads the database once
per process and validates a row into tau2's model when it is first needed
(`taugepa.world.tables`); each `Engine` (one per episode) sees it through copy-on-write
tables that copy a row only when a tool looks it up by key (the only way tau2's tools reach
rows they change), and
`Engine.db_digest` hashes only the rows that differ from the base. Two engines have equal
digests exactly when their databases are equal, which is all a verdict needs.

Nothing here imports tau2 before a tool runs: the tool names and schemas come from
`taugepa.world.tau2_airline`'s catalog, the world's fingerprint from the database file's
bytes, and the database itself is parsed on first use (or in the background, see
`AirlineWorld.preload`), so a run's first LLM request does not wait for it.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any, get_args

from taugepa.world.calculator import CalculationError, calculate
from taugepa.world.tables import BaseRows, CopyOnWriteTable
from taugepa.world.tau2_airline import (
    AIRLINE_DB_PATH,
    AIRLINE_POLICY_PATH,
    TAU2_DISTRIBUTION,
    tau2,
    tool_catalog,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from pydantic import BaseModel, ValidationError

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
    return frozenset(tool_catalog().kinds) | {THINK_TOOL}


@cache
def write_tool_names() -> frozenset[str]:
    """Names of the tools that can change the database."""
    return frozenset(name for name, kind in tool_catalog().kinds.items() if kind == "write")


def apply_tool_descriptions(schemas: list[dict[str, Any]], descriptions: dict[str, str] | None) -> None:
    """Replace, in place, the description of every tool the mapping names (parameters stay)."""
    for schema in schemas:
        function = schema.get("function") or {}
        if descriptions and function.get("name") in descriptions:
            function["description"] = descriptions[function["name"]]


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


def engine_info(db_bytes: bytes | None = None) -> dict[str, str]:
    """What decides tool behaviour and data: recorded in scores files, keys the gold cache.

    The installed database's info is computed once per process: reading and hashing the 7 MB
    database and reading tau2's version from its metadata took 30-60 ms of CPU, paid again
    by every scores file's header at the end of a run.
    """
    if db_bytes is None:
        return dict(_installed_engine_info())
    info = {
        "version": ENGINE_VERSION,
        "tau2": metadata.version(TAU2_DISTRIBUTION),
        "db_sha256": hashlib.sha256(db_bytes).hexdigest(),
    }
    canonical = json.dumps(info, sort_keys=True).encode()
    return {**info, "fingerprint": hashlib.sha256(canonical).hexdigest()[:16]}


@functools.cache
def _installed_engine_info() -> dict[str, str]:
    return engine_info(AIRLINE_DB_PATH.read_bytes())


class AirlineWorld:
    """Everything read-only about the airline, built once per process and shared by all episodes.

    The identity (`info`, `fingerprint`), the policy text and the tool schemas are ready at
    once; the database (`rows`, and the fully validated `base_db` for those who want all of
    it) and the argument validators (`tools`) are built on first use, by whichever thread
    needs them first (or by `preload`'s thread).
    """

    def __init__(self) -> None:
        self.info = engine_info()
        self.fingerprint = self.info["fingerprint"]
        self.policy = DEFAULT_POLICY_PATH.read_text()
        catalog = tool_catalog()
        self.tool_order = (*catalog.schemas, THINK_TOOL)  # sorted by name, then `think`
        self.tool_kinds = {**catalog.kinds, THINK_TOOL: "think"}
        self._schemas_json = {
            think: json.dumps([*catalog.schemas.values(), *([THINK_SCHEMA] if think else [])])
            for think in (True, False)
        }
        self._base_row_json: dict[tuple[str, str], str] = {}
        self._rows: dict[str, BaseRows] | None = None
        self._db: Any = None
        self._tools: dict[str, ToolSpec] | None = None
        self._load_lock = threading.Lock()
        self._preload_lock = threading.Lock()
        self._preloading = False

    def rows(self, table: str) -> BaseRows:
        """One table's base rows (the database is read on first use; rows validated on demand)."""
        return self._load_rows()[table]

    def _load_rows(self) -> dict[str, BaseRows]:
        if self._rows is None:
            with self._load_lock:
                if self._rows is None:
                    t = tau2()
                    raw = json.loads(AIRLINE_DB_PATH.read_bytes())
                    gc.freeze()  # the parsed database never dies: keep the collector from rescanning it
                    models = {name: get_args(t.FlightDB.model_fields[name].annotation)[1] for name in TABLES}
                    self._rows = {name: BaseRows(raw[name], models[name]) for name in TABLES}
        return self._rows

    @property
    def base_db(self) -> Any:
        """tau2's `FlightDB` with every row validated (built on first use; episodes do not need it)."""
        if self._db is None:
            rows = self._load_rows()
            with self._load_lock:
                if self._db is None:
                    tables = {name: rows[name].all() for name in TABLES}
                    self._db = tau2().FlightDB.model_construct(**tables)
        return self._db

    @property
    def tools(self) -> dict[str, ToolSpec]:
        """Every tool with the validators its arguments must pass, built on first use."""
        return self._load_tools()

    def _load_tools(self) -> dict[str, ToolSpec]:
        if self._tools is None:
            with self._load_lock:
                if self._tools is None:
                    self._tools = self._build_tool_specs()
        return self._tools

    def preload(self) -> None:
        """Build the database and the validators on a background thread (once per process).

        An LLM episode's first requests need neither, so they leave while this runs.
        """
        with self._preload_lock:
            if self._preloading or (self._rows is not None and self._tools is not None):
                return
            self._preloading = True
        # Not a daemon: an exit waits for it rather than stopping it in the middle of an import.
        threading.Thread(target=self._preload, name="taugepa-world").start()

    def _preload(self) -> None:
        try:
            self._load_rows()
            self._load_tools()
        except Exception:  # noqa: BLE001 - whoever needs them next gets the error in their thread
            pass

    def _build_tool_specs(self) -> dict[str, ToolSpec]:
        from jsonschema import Draft202012Validator

        t = tau2()
        toolkit = t.AirlineTools(t.FlightDB.model_construct(flights={}, users={}, reservations={}))
        params = {name: tool.params for name, tool in toolkit.get_tools().items()}
        schemas = {**tool_catalog().schemas, THINK_TOOL: THINK_SCHEMA}
        return {
            name: ToolSpec(
                name=name,
                kind=self.tool_kinds[name],
                schema=schemas[name],
                validator=Draft202012Validator(schemas[name]["function"]["parameters"]),
                params_model=params.get(name),
            )
            for name in self.tool_order
        }

    def tool_schemas(
        self, think_tool: bool = True, descriptions: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """OpenAI-format tool definitions offered to the agent (fresh copies, safe to edit).

        `descriptions` replaces the named tools' descriptions (taugepa.world.tool_descriptions).
        """
        schemas = json.loads(self._schemas_json[think_tool])
        apply_tool_descriptions(schemas, descriptions)
        return schemas

    def base_row_json(self, table: str, key: str) -> str | None:
        """Canonical JSON of a base row (memoized), or None if the base has no such row."""
        cache_key = (table, key)
        cached = self._base_row_json.get(cache_key)
        if cached is None:
            row = self.rows(table).get(key)
            if row is None:
                return None
            cached = self._base_row_json[cache_key] = row_json(row)
        return cached

    def new_engine(self, think_tool: bool = True, tool_descriptions: dict[str, str] | None = None) -> Engine:
        return Engine(self, think_tool=think_tool, tool_descriptions=tool_descriptions)


_world: AirlineWorld | None = None
_world_lock = threading.Lock()


def get_world() -> AirlineWorld:
    """The process-wide airline world (cheap: the database is parsed on first use; thread-safe)."""
    global _world
    if _world is None:
        with _world_lock:
            if _world is None:
                _world = AirlineWorld()
    return _world


class Engine:
    """One episode's airline: tools over a private copy-on-write view of the database.

    The view is opened when the episode first touches the database, so an engine costs
    nothing until then (and an episode that never calls a tool never waits for the database).
    """

    def __init__(
        self, world: AirlineWorld, think_tool: bool = True, tool_descriptions: dict[str, str] | None = None
    ):
        self.world = world
        self.think_tool = think_tool
        self.tool_descriptions = tool_descriptions
        self._opened: dict[str, CopyOnWriteTable] | None = None
        self._toolkit: Any = None

    @property
    def _tables(self) -> dict[str, CopyOnWriteTable]:
        return self._open()

    def _open(self) -> dict[str, CopyOnWriteTable]:
        if self._opened is None:
            tables = {name: CopyOnWriteTable(self.world.rows(name)) for name in TABLES}
            t = tau2()
            self._toolkit = t.AirlineTools(t.FlightDB.model_construct(**tables))
            self._opened = tables
        return self._opened

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        return self.world.tool_schemas(self.think_tool, self.tool_descriptions)

    def is_available(self, name: str) -> bool:
        return name in self.world.tool_kinds and (self.think_tool or name != THINK_TOOL)

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Run a tool for the agent; every failure comes back as an `Error: ...` result."""
        try:
            return ToolResult(self._to_text(self.execute(name, arguments)), is_error=False)
        except ToolCallError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)

    def execute(self, name: str, arguments: Any) -> Any:
        """Run a tool and return its raw result; raise ToolCallError if it cannot or refuses."""
        if not self.is_available(name):
            available = ", ".join(known for known in self.world.tool_order if self.is_available(known))
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
        self._open()  # the database view, and the toolkit over it
        try:
            return getattr(self._toolkit, name)(**kwargs)
        except tau2().ValidationError as exc:
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
        from jsonschema.exceptions import best_match

        error = best_match(spec.validator.iter_errors(arguments))
        if error is not None:
            where = "".join(f"[{part!r}]" for part in error.absolute_path) or "arguments"
            raise ToolCallError(f"Invalid arguments for {spec.name}: {where}: {error.message}")
        if spec.params_model is None:
            return dict(arguments)
        try:
            model = spec.params_model.model_validate(arguments)
        except tau2().ValidationError as exc:
            raise ToolCallError(f"Invalid arguments for {spec.name}: {validation_message(exc)}") from None
        return model.model_dump(include=set(arguments))

    @staticmethod
    def _to_text(result: Any) -> str:
        return tau2().to_json_str(result)

    def peek(self, table: str, key: str) -> BaseModel | None:
        """A row as it stands in this episode, without copying it (None if absent).

        For read-only inspection (policy checks, task generation): callers must not
        change the row, or they would change the shared base database.
        """
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
        return self._tables[table].peek(key)

    def changed_rows(self) -> list[tuple[str, str, str]]:
        """(table, key, row JSON) for every row that now differs from the base, sorted."""
        changed: list[tuple[str, str, str]] = []
        if self._opened is None:
            return changed  # the episode never touched the database
        for table_name, table in self._opened.items():
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
        return tau2().get_dict_hash(dump)
