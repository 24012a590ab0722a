"""The typed shape of a scores file, checked whenever one is read (`load_scores`).

A scores file decides gates (`--baseline`), comparisons and reports, so one that was edited
by hand or damaged must be refused before anything relies on it: a score of 7.5 or "1.0",
an outcome that is not one of the four, a passed episode scoring 0, two episodes of the same
task and trial, a field of the wrong type that a summary would trip on. Every field the
summaries, gates, `compare` and the HTML report read is typed here, and required when they
read it without a default; anything else is kept as it is. The models only check: the
loaded file stays plain dicts (a default here never fills a missing key).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from taugepa.errors import ConfigError
from taugepa.guards.validation import entry_label, first_error
from taugepa.protocol import ERROR, FAILED, INVALID, PASSED

Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Dollars = Annotated[float, Field(ge=0)]
Unit = Annotated[float, Field(ge=0, le=1)]
Outcome = Literal["passed", "failed", "invalid", "error"]
ADVICE = "was it edited by hand? Rerun the benchmark to write a new one"


class _Typed(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class Audit(_Typed):
    status: str
    free_pass: bool
    flags: list[str] = []


class Tokens(_Typed):
    agent: Count
    user: Count
    total: Count


class Efficiency(_Typed):
    """All or nothing: summaries put each figure of every scored episode side by side."""

    agent_turns: Count
    user_turns: Count
    tool_calls: Count
    tool_errors: Count
    writes: Count
    tool_calls_by_name: dict[str, Count]
    tokens: Tokens | None


class Violation(_Typed):
    rule: str
    kind: str
    severity: str
    message: str
    turn: int | None
    action: str | None = None
    policy: str | None = None
    policy_found: bool | None = None


class Compliance(_Typed):
    conversation_rules: bool
    compliant: bool
    violations: list[Violation]


class SideUsage(_Typed):
    model: str | None = None
    requests: Count = 0
    cache_hits: Count = 0
    retries: Count = 0
    failures: Count = 0
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    cost_usd: Dollars | None = None


class CallUsage(_Typed):
    side: str
    model: str
    prompt_tokens: Count
    completion_tokens: Count
    cached: bool = False
    retries: Count = 0
    cost_usd: Dollars | None = None
    failed: bool = False


class Usage(_Typed):
    agent: SideUsage | None = None
    user: SideUsage | None = None
    cost_usd: Dollars | None = None
    calls: list[CallUsage] = []


class Function(_Typed):
    name: str | None = None
    arguments: Any = None


class WireToolCall(_Typed):
    function: Function | None = None


class Message(_Typed):
    role: str
    content: str | list[Any] | None = None
    tool_calls: list[WireToolCall] | None = None


class ToolCall(_Typed):
    name: str
    arguments: Any
    result: str
    is_error: bool
    executed: bool = True


class Action(_Typed):
    name: str
    kwargs: Any = None


class Recorded(_Typed):
    recorded_reward: float | None = None
    agrees: bool = False
    reason: str | None = None


class Failure(_Typed):
    cause: str
    blame: Literal["agent", "user_simulator", "task"]
    detail: str = ""


class Episode(_Typed):
    task_id: Annotated[str, Field(min_length=1, max_length=1000)]
    trial: Annotated[int, Field(ge=0, le=10**9)]
    outcome: Outcome
    score: Unit | None
    group: str
    set: str | None = None
    difficulty: str | None = None
    gold_action_names: list[str]
    feedback: str = ""
    termination: str | None = None
    audit: Audit | None = None
    failure: Failure | None = None
    efficiency: Efficiency | None = None
    compliance: Compliance | None = None
    usage: Usage | None = None
    messages: list[Message] = []
    tool_calls: list[ToolCall] = []
    expected_actions: list[Action] = []
    duration_s: Seconds = 0.0
    recorded: Recorded | None = None

    @field_validator("efficiency", "compliance", "usage", "audit", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """Invalid and error episodes carry `{}` for the sections they never reached."""
        return None if value == {} else value

    @model_validator(mode="after")
    def _score_matches_outcome(self) -> Episode:
        expected = {PASSED: 1.0, FAILED: 0.0, INVALID: None, ERROR: None}[self.outcome]
        if self.score != expected:
            shown = "null" if expected is None else f"{expected:g}"
            raise ValueError(f"a {self.outcome} episode scores {shown}, this one {self.score}")
        return self


class Source(_Typed):
    path: str | None = None
    count: Count | None = None


class Wiki(_Typed):
    path: str | None = None
    sha256: str | None = None


class Run(_Typed):
    agent: str | None = None
    models: dict[str, str | None] | None = None
    wiki: Wiki | None = None
    task_sources: list[Source] = []


class ScoresDocument(_Typed):
    run: Run = Run()
    summary: dict[str, Any] = {}
    episodes: list[Episode]
    timing: dict[str, Any] = {}


def check_scores(document: dict[str, Any], path: str) -> None:
    """Raise one ConfigError line for the first problem of a scores document, if any."""
    try:
        ScoresDocument.model_validate(document)
    except ValidationError as exc:
        error = first_error(exc)
        label, used = entry_label(error.location, {"episodes": "episode", "task_sources": "task source"})
        if label.startswith("episode "):
            label += _episode_name(document["episodes"][error.location[1]])
        where = f"{label}: " if label else ""
        raise ConfigError(f"{path}: {where}'{error.field(used)}' {error.problem}: {ADVICE}") from None
    seen: dict[tuple[str, int], int] = {}
    for number, entry in enumerate(document["episodes"]):
        key = (entry["task_id"], entry["trial"])
        if key in seen:
            raise ConfigError(
                f"{path}: episodes {seen[key]} and {number} are both task {key[0]}, trial {key[1]}: "
                f"a scores file has one episode per task and trial ({ADVICE})"
            )
        seen[key] = number


def _episode_name(entry: Any) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("task_id"), str):
        trial = entry.get("trial")
        suffix = f"#{trial}" if isinstance(trial, int) and not isinstance(trial, bool) else ""
        return f" ({entry['task_id'][:60]}{suffix})"
    return ""
