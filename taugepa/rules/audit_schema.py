"""The typed shape of an audit file (`taugepa audit --out`), checked whenever one is read.

An audit file decides which tasks a run keeps (`--task-filter`) and what each episode's
audit says, so a damaged one is refused with one line naming the file, the task entry and
the field, instead of failing later with a KeyError.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taugepa.errors import ConfigError
from taugepa.guards.validation import entry_label, first_error
from taugepa.rules.registry import SEVERITIES

Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
Count = Annotated[int, Field(ge=0)]


class _Typed(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class AuditFinding(_Typed):
    rule: str
    severity: Severity
    message: str
    action_index: Count | None = None
    action: str | None = None
    policy: str | None = None
    policy_found: bool | None = None


class AuditEntry(_Typed):
    task_id: Annotated[str, Field(min_length=1)]
    group: str
    difficulty: str | None = None
    content_hash: str
    writes: Count
    outputs: Count
    findings: list[AuditFinding]


class AuditPolicy(_Typed):
    path: str | None = None
    label: str | None = None
    sha256: str | None = None


class AuditDocument(_Typed):
    rules_version: str | int | None = None
    policy: AuditPolicy = AuditPolicy()
    engine: dict[str, Any] = {}
    task_sources: list[dict[str, Any]] = []
    tasks: list[AuditEntry]


def check_audit(document: dict[str, Any], path: str) -> None:
    """Raise one ConfigError line for the first problem of an audit document, if any."""
    try:
        AuditDocument.model_validate(document)
    except ValidationError as exc:
        error = first_error(exc)
        label, used = entry_label(error.location, {"tasks": "task entry"})
        if label:
            entry = document["tasks"][error.location[1]]
            if isinstance(entry, dict) and isinstance(entry.get("task_id"), str):
                label += f" ({entry['task_id'][:60]})"
            label += ": "
        raise ConfigError(
            f"{path}: {label}'{error.field(used)}' {error.problem}: rerun taugepa audit to write a new one"
        ) from None
