"""Finding the agent a run names: `package.module:factory`, an installed entry point, or a hook's.

`--agent` takes a built-in name (`taugepa.episode.agent_choice`), `package.module:factory`
(imported), or the name of an entry point in the `taugepa.agents` group of an installed
package; the pytest plugin registers what a conftest.py's `pytest_taugepa_make_agent` hook
returns (`register_agent`). Whatever cannot be imported, or is not a factory, is one
ConfigError line before any episode runs.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
from dataclasses import dataclass
from typing import Any

from taugepa.agents.interface import AgentFactory, declared_identity
from taugepa.errors import ConfigError

ENTRY_POINT_GROUP = "taugepa.agents"
HOOK_PREFIX = "hook:"


@dataclass(frozen=True)
class AgentChoice:
    """The agent a run uses: how it is named on the command line, its factory, how it was found."""

    label: str  # what --agent says (and the run header records)
    factory: AgentFactory
    route: str  # "built-in", "import", "entry point" or "pytest hook"
    identity: tuple[str, str] | None  # declared (name, version); None: its episodes are not cached

    @property
    def builtin(self) -> bool:
        return self.route == "built-in"

    def cache_identity(self) -> Any:
        """What the episode cache keys this agent by: the built-in's name, or the declared
        name and version (None: the agent declares none and is not cached)."""
        if self.builtin:
            return self.label
        if self.identity is None:
            return None
        return {"name": self.identity[0], "version": self.identity[1]}

    def describe(self) -> dict[str, Any]:
        """How the scores file's run header records a custom agent."""
        described: dict[str, Any] = {"label": self.label, "route": self.route}
        if self.identity is not None:
            described["name"], described["version"] = self.identity
        return described


_registered: dict[str, AgentChoice] = {}
_lock = threading.Lock()


def register_agent(factory: Any, *, route: str = "pytest hook") -> str:
    """Make `factory` choosable under a label (returned); for the pytest plugin's hook."""
    check_factory(factory, "the pytest_taugepa_make_agent hook")
    identity = declared_identity(factory)
    name = identity[0] if identity else getattr(factory, "__qualname__", type(factory).__name__)
    label = HOOK_PREFIX + name
    with _lock:
        _registered[label] = AgentChoice(label, factory, route, identity)
    return label


def load_agent(spec: str, builtin: tuple[str, ...] = ()) -> AgentChoice:
    """The agent `spec` names (not a built-in one); ConfigError with one line if there is none."""
    registered = _registered.get(spec)
    if registered is not None:
        return registered
    return _load(spec, builtin)


@functools.lru_cache(maxsize=64)
def _load(spec: str, builtin: tuple[str, ...]) -> AgentChoice:
    if spec.startswith(HOOK_PREFIX):
        raise ConfigError(
            f"--agent {spec}: no conftest.py's pytest_taugepa_make_agent hook gave this agent in this "
            "process; run it under pytest with that conftest.py, or name it as package.module:factory"
        )
    if ":" in spec:
        factory = _import_factory(spec)
        route = "import"
    else:
        factory = _entry_point_factory(spec, builtin)
        route = "entry point"
    check_factory(factory, f"--agent {spec}")
    return AgentChoice(spec, factory, route, declared_identity(factory))


def _import_factory(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--agent {spec!r}: write package.module:factory (both parts)")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # whatever the user's module raises, one line
        raise ConfigError(
            f"--agent {spec}: cannot import {module_name} ({type(exc).__name__}: {_first_line(exc)}); "
            "check the module is on the path (PYTHONPATH, or pip install the package)"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(
                f"--agent {spec}: module {module_name} has no {attribute!r}; name the agent factory there"
            ) from None
    return target


def installed_agents() -> dict[str, Any]:
    """The entry points of the `taugepa.agents` group, by name (installed packages' agents)."""
    from importlib.metadata import entry_points

    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point_factory(name: str, builtin: tuple[str, ...]) -> Any:
    installed = installed_agents()
    point = installed.get(name)
    if point is None:
        names = ", ".join(sorted(installed)) or "none installed"
        raise ConfigError(
            f"unknown --agent {name[:60]!r}: choose one of {', '.join(builtin)}, an installed agent "
            f"({names}; entry point group {ENTRY_POINT_GROUP}) or package.module:factory"
        )
    try:
        return point.load()
    except Exception as exc:  # whatever the package raises, one line
        raise ConfigError(
            f"--agent {name}: the entry point {point.value} cannot be loaded "
            f"({type(exc).__name__}: {_first_line(exc)}); reinstall the package that provides it"
        ) from None


def check_factory(factory: Any, where: str) -> None:
    """A factory is callable with one argument (the AgentContext); a class needs an `act` method."""
    if not callable(factory):
        raise ConfigError(
            f"{where}: {type(factory).__name__} is not an agent factory; give a class or function "
            "that takes an AgentContext and returns an agent with act(messages) (see docs/agents.md)"
        )
    if inspect.isclass(factory) and not callable(getattr(factory, "act", None)):
        raise ConfigError(
            f"{where}: class {factory.__name__} has no act(messages) method (see docs/agents.md)"
        )


def check_agent(agent: Any, label: str) -> None:
    """What a factory returned must have `act`; otherwise the run stops with one line."""
    if not callable(getattr(agent, "act", None)):
        raise ConfigError(
            f"--agent {label}: the factory returned {type(agent).__name__}, not an agent; it must return "
            "an object with act(messages) (see docs/agents.md)"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:200]
