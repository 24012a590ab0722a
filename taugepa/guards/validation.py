"""Pydantic validation errors as the one line a user reads: the entry, the field, what is wrong.

The typed models of the files taugepa reads (`taugepa.tasks.schema`,
`taugepa.results.scores_schema`, ...) are pydantic models; their loaders turn the first
error into `<file>: <entry>: '<field>' <what is wrong>, got <value>: <what to do>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

MAX_SHOWN_VALUE = 40


@dataclass(frozen=True)
class FieldError:
    """The first problem pydantic found: where (a path of keys and indexes) and what."""

    location: tuple[str | int, ...]
    problem: str

    def field(self, skip: int = 0) -> str:
        """The field path after the first `skip` parts: `actions[0].kwargs`."""
        text = ""
        for part in self.location[skip:]:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text or "(the entry itself)"


def first_error(exc: ValidationError) -> FieldError:
    error = exc.errors(include_url=False)[0]
    location = tuple(part for part in error["loc"] if not _is_union_tag(part))
    return FieldError(location, _problem(error))


def _is_union_tag(part: Any) -> bool:
    """Pydantic adds the member type's name to the path of an error inside a union."""
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "list", "dict"))


def _problem(error: Mapping[str, Any]) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a field this file may have"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"should be an object, got {shown(error.get('input'))}"
    text = message[0].lower() + message[1:] if message else kind
    text = text.replace("input should be", "should be").replace("value error, ", "")
    if kind.startswith("value_error") or kind == "assertion_error":
        return text
    return f"{text}, got {shown(error.get('input'))}"


def shown(value: Any) -> str:
    """A value as a message shows it: short, one line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


def entry_label(location: Sequence[str | int], names: dict[str, str]) -> tuple[str, int]:
    """`episode 3` for ('episodes', 3, ...) given {"episodes": "episode"}; and how many parts it used."""
    if len(location) >= 2 and isinstance(location[0], str) and isinstance(location[1], int):
        noun = names.get(location[0])
        if noun:
            return f"{noun} {location[1]}", 2
    return "", 0
