"""The typed shape of the task files taugepa reads: tau-bench v1 lists and tau2's tasks.

`taugepa.tasks.loading` validates each entry with these models (after the file passed the
size, depth and number limits of `taugepa.guards.safe_json`) and turns the first problem into one
line naming the file, the entry and the field. Unknown fields are kept (as task metadata).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from taugepa.errors import TaskFileError
from taugepa.guards.validation import first_error

MAX_GROUP_NAME_CHARS = 64


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("must be a non-empty string")
    return text


NonEmptyText = Annotated[str, AfterValidator(_non_empty)]
# A group name becomes part of task ids and a pytest mark (see pytest_taugepa.marks).
GroupName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]+$", max_length=MAX_GROUP_NAME_CHARS)]


class _Lenient(BaseModel):
    """Types are checked strictly (a string is never a number); unknown fields are kept."""

    model_config = ConfigDict(strict=True, extra="allow")


class V1Action(_Lenient):
    name: str
    kwargs: dict[str, Any] | None = None
    arguments: dict[str, Any] | None = None  # tau2's name for kwargs, accepted too


class V1Task(_Lenient):
    """One entry of a tau-bench v1 task list."""

    user_id: NonEmptyText
    instruction: NonEmptyText
    actions: list[V1Action]
    outputs: list[str] | None = None
    difficulty: GroupName | None = None


class Tau2Instructions(_Lenient):
    domain: str | None = None
    reason_for_call: str | None = None
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str | None = None


class Tau2Scenario(_Lenient):
    instructions: str | Tau2Instructions


class Tau2Action(_Lenient):
    name: str
    arguments: dict[str, Any] | None = None


class Tau2Criteria(_Lenient):
    actions: list[Tau2Action] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None


class Tau2Description(_Lenient):
    purpose: str | None = None


class Tau2Task(_Lenient):
    """One task of tau2's tasks.json."""

    id: Annotated[str, Field(pattern=r"^\d{1,9}$")]
    user_scenario: Tau2Scenario
    evaluation_criteria: Tau2Criteria | None = None
    description: Tau2Description | None = None


def check_entry(model: type[_Lenient], entry: Any, where: str, index: int) -> Any:
    """`entry` validated against `model`; the first problem is one TaskFileError line."""
    if not isinstance(entry, dict):
        raise TaskFileError(f"{where}: entry {index}: expected an object, got {type(entry).__name__}")
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        error = first_error(exc)
        raise TaskFileError(f"{where}: entry {index}: '{error.field()}' {error.problem}") from None
