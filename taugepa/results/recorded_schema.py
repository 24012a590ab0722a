"""The typed shape of tau-bench's recorded runs (`run.py` results), checked before rescoring.

A results file is a JSON list of `{task_id, trial, reward, info, traj}`; `traj` is the
conversation in OpenAI chat format. tau2's results files are checked by tau2's own pydantic
model (`tau2.data_model.simulation.Results`). Either way a malformed record is one line
naming the file, the entry and the field, before any replay.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taugepa.errors import ConfigError
from taugepa.guards.validation import first_error


class _Typed(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class RecordedFunction(_Typed):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class RecordedToolCall(_Typed):
    id: str | None = None
    function: RecordedFunction


class RecordedMessage(_Typed):
    role: str
    content: str | list[Any] | None = None
    tool_calls: list[RecordedToolCall] | None = None


class RecordedTask(_Typed):
    """The task as tau-bench recorded it (compared with --tasks before rescoring)."""

    user_id: str | None = None
    actions: list[dict[str, Any]] | None = None
    outputs: list[str] | None = None


class RewardDetails(_Typed):
    outputs: dict[str, Any] | None = None


class RewardInfo(_Typed):
    info: RewardDetails | None = None


class RecordedInfo(_Typed):
    task: RecordedTask | None = None
    error: str | None = None
    reward_info: RewardInfo | None = None


class TauBenchRun(_Typed):
    """One entry of tau-bench's results list."""

    task_id: Annotated[int, Field(ge=0, le=10**9)] | Annotated[str, Field(pattern=r"^\d{1,9}$")]
    trial: Annotated[int, Field(ge=0, le=10**9)] | None = None
    reward: float | None = None
    info: RecordedInfo | None = None
    traj: list[RecordedMessage] | None = None


def check_tau_bench_run(item: Any, path: str, number: int) -> TauBenchRun:
    at = f"{path}: entry {number}"
    if not isinstance(item, dict) or "task_id" not in item or "traj" not in item:
        raise ConfigError(f"{at}: expected an object with task_id, trial, reward, info and traj")
    try:
        return TauBenchRun.model_validate(item)
    except ValidationError as exc:
        error = first_error(exc)
        raise ConfigError(
            f"{at}: '{error.field()}' {error.problem}: pass the results file tau-bench's run.py wrote"
        ) from None
