"""Options declared once: every option a front end shares is one `Option` row.

pytest (`pytest_taugepa.options` renders the rows as command-line options and ini settings),
the `taugepa` commands (`add_arguments` renders them for argparse) and the command line the
optimizer's pytest evaluator builds (`taugepa.episode.options.harness_arguments`) all come
from the same rows, so a flag, its help and its ini name cannot drift apart. The layer that
owns an option validates its value (`taugepa.llm.settings`, `taugepa.episode.options`,
`taugepa.results.gates`) through a `Lookup`, so both front ends give the same one-line errors.

Adding an option: a row in its owner's table, a field in the settings object it belongs to
(the resolver fills it), and the code that uses it. Nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.guards.limits import check_range

# How an option takes its value on a command line.
VALUE = "value"  # --flag VALUE
LIST = "list"  # --flag VALUE, repeatable
SWITCH = "switch"  # --flag: true when given (ini: a bool, default false)
OFF_SWITCH = "off"  # --no-thing: false when given (ini `taugepa_<name>`: a bool, default true)

INI_PREFIX = "taugepa_"

# lookup(name) -> (the value or None when not given, the folder a relative path in it is relative to)
Lookup = Callable[[str], tuple[Any, Path | None]]


@dataclass(frozen=True)
class Option:
    """One option as every front end shows it; `name` is its settings name (ini: taugepa_<name>)."""

    flag: str
    name: str
    help: str
    kind: str = VALUE
    choices: tuple[str, ...] | None = None

    @property
    def ini_name(self) -> str:
        return INI_PREFIX + self.name

    @property
    def metavar(self) -> str | None:
        if self.kind in (SWITCH, OFF_SWITCH) or self.choices:
            return None
        return self.flag[2:].upper().replace("-", "_")

    def variant(self, **changes: Any) -> Option:
        """This option as one front end words it (its own help or choices); the flag stays."""
        return dataclasses.replace(self, **changes)


def pick(table: Iterable[Option], *names: str) -> list[Option]:
    """The rows of `table` named `names`, in that order (a KeyError names a missing one)."""
    rows = {option.name: option for option in table}
    return [rows[name] for name in names]


def add_arguments(parser: argparse.ArgumentParser | Any, options: Iterable[Option]) -> None:
    """The options on an argparse parser or group; a value not given is None (the resolver's default)."""
    for option in options:
        extras: dict[str, Any] = {
            "dest": option.name,
            "default": None,
            "help": option.help.replace("%", "%%"),
        }
        if option.kind == SWITCH:
            extras["action"] = "store_true"
        elif option.kind == OFF_SWITCH:
            extras["action"] = "store_false"
        else:
            if option.kind == LIST:
                extras["action"] = "append"
            if option.choices:
                extras["choices"] = option.choices
            else:
                extras["metavar"] = option.metavar
        parser.add_argument(option.flag, **extras)


def args_lookup(args: argparse.Namespace) -> Lookup:
    """A `Lookup` over parsed arguments (relative paths are relative to the current folder)."""
    return lambda name: (getattr(args, name, None), None)


def resolve_path(value: str, base: Path | None) -> Path:
    """`value` as a path; a relative one is relative to `base` (an ini file's folder) when given."""
    path = Path(value).expanduser()
    return path if base is None or path.is_absolute() else base / path


def given(lookup: Lookup, name: str) -> Any:
    """The option's value, or None when it was not given."""
    value = lookup(name)[0]
    return None if value in ("", []) else value


def whole_number(value: Any, flag: str, default: int, minimum: int, limit: tuple[float, str]) -> int:
    """A whole number within `minimum` and the limit, or `default` when not given."""
    if value is None or value == "":
        return default
    number = number_value(value, flag, int, minimum=-math.inf)
    check_range(flag, number, minimum, limit)
    return int(number)


def number_value(
    value: Any,
    flag: str,
    kind: type,
    *,
    minimum: float,
    exclusive: bool = False,
    limit: tuple[float, str] | None = None,
) -> Any:
    """`value` as an int or float at least (or, exclusive, above) `minimum`; None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # True is an int to Python, not a number to a user
        value = str(value)
    try:
        number = kind(value)
    except (TypeError, ValueError):  # a 5,000-digit number is a ValueError too
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{flag} expects {noun}, got {str(value)[:40]!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{flag} expects a finite number, got {value!r}")
    if number < minimum or (exclusive and number == minimum):
        bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise ConfigError(f"{flag} must be {bound}, got {value}")
    if limit is not None:
        check_range(flag, number, minimum, limit)
    return number


def optional_number(value: Any, flag: str, kind: type, *, default: Any) -> Any:
    """A number, `default` when not given, or None for 'none' (the parameter is then not sent)."""
    if value is None or value == "":
        return default
    if str(value).strip().lower() == "none":
        return None
    return number_value(value, flag, kind, minimum=-math.inf)


def choice(value: Any, flag: str, allowed: Iterable[str], default: str) -> str:
    """One of `allowed`, or `default` when not given."""
    allowed = tuple(allowed)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise ConfigError(f"unknown {flag} {str(value)[:40]!r}: choose one of {', '.join(allowed)}")
    return str(value)


def switch(value: Any, default: bool) -> bool:
    """A switch's value (ini files give 'true'/'false' strings), or `default` when not given."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
