"""Rescore recorded runs: recompute their verdicts with taugepa's engine and scoring.

A recorded run (from tau-bench's `run.py`, or tau2's results file) is replayed through
`taugepa.episode.run_episode`, the one episode loop: a replay agent repeats the recorded
assistant messages and a replay user the recorded user messages, while taugepa's engine
executes the tool calls afresh and `taugepa.episode.scoring` gives the verdict. So the replay follows
the same rules as a live run under taugepa's protocol (tau-bench's): the episode ends on the
user's `###STOP###` or a transfer, and there is no reward otherwise; as tau-bench executed
only the first tool call of a message, so does the replay of its records (the others are
refused).

tau2 executed every tool call of a message: its records are replayed one call per step
(same calls, same order, same database), and the greeting tau2's agent opens with is kept
in the transcript but not replayed (it precedes the user's first message).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.episode.run import EpisodeResult, run_episode
from taugepa.episode.settings import TAUGEPA_PROTOCOL, HarnessSettings
from taugepa.errors import ConfigError, InfrastructureError
from taugepa.guards.limits import MAX_RESULTS_FILE_BYTES
from taugepa.guards.safe_json import read_json_file
from taugepa.protocol import FAILED, PASSED, Message
from taugepa.results.recorded_schema import check_tau_bench_run
from taugepa.results.scores import episode_entry
from taugepa.tasks.gold import GoldCache, default_gold_cache
from taugepa.tasks.model import Task
from taugepa.world.engine import AirlineWorld, get_world

TAU_BENCH = "tau-bench"
TAU2 = "tau2"


class RecordIncomplete(InfrastructureError):
    """The record stops where the conversation needs another message: it cannot be scored."""


@dataclass
class RecordedRun:
    """One recorded episode, in OpenAI chat format, with the verdict its harness gave it."""

    task_key: str  # the harness's task id: tau-bench's index, tau2's task id
    trial: int
    recorded_reward: float | None
    messages: list[Message]
    source_format: str
    recorded_task: dict[str, Any] | None = None  # the task as the record states it, if it does
    recorded_error: str | None = None  # the harness's own failure message (no transcript then)
    recorded_termination: str | None = None
    recorded_details: str = ""  # what the harness said about its verdict, for disagreements

    @property
    def system_prompt(self) -> str:
        first = self.messages[0] if self.messages else {}
        return str(first.get("content") or "") if first.get("role") == "system" else ""


@dataclass
class Agreement:
    """How a rescored episode compares with the recorded verdict."""

    task_id: str
    trial: int
    recorded_reward: float | None
    outcome: str
    agrees: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded_reward": self.recorded_reward,
            "agrees": self.agrees,
            "reason": self.reason,
        }


@dataclass
class RescoreResult:
    """Everything `taugepa rescore` reports and writes."""

    source_format: str
    entries: list[dict[str, Any]]
    agreements: list[Agreement]
    system_prompts: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> list[Agreement]:
        return [a for a in self.agreements if not a.agrees]

    @property
    def recorded_passes(self) -> int:
        return sum(1 for a in self.agreements if a.recorded_reward is not None and a.recorded_reward >= 1.0)


# ---------------------------------------------------------------- reading records


def load_recorded_runs(path: str | Path) -> tuple[str, list[RecordedRun]]:
    """Read a tau-bench results list or a tau2 results file; anything else is a ConfigError."""
    path = Path(path)
    document = read_json_file(path, what="results file", max_bytes=MAX_RESULTS_FILE_BYTES)
    if isinstance(document, list):
        return TAU_BENCH, [_tau_bench_run(path, number, item) for number, item in enumerate(document)]
    if isinstance(document, dict) and "simulations" in document:
        return TAU2, _tau2_runs(path, document)
    raise ConfigError(
        f"{path} is neither a tau-bench results file (a JSON list of {{task_id, trial, reward, info, "
        "traj}}) nor a tau2 results file (an object with 'simulations'): pass the file run.py wrote"
    )


def _tau_bench_run(path: Path, number: int, item: Any) -> RecordedRun:
    checked = check_tau_bench_run(item, str(path), number)
    info = item.get("info") or {}
    return RecordedRun(
        task_key=str(checked.task_id),
        trial=checked.trial or 0,
        recorded_reward=checked.reward,
        messages=[dict(message) for message in item.get("traj") or []],
        source_format=TAU_BENCH,
        recorded_task=info.get("task") if isinstance(info.get("task"), dict) else None,
        recorded_error=info.get("error") if isinstance(info.get("error"), str) else None,
        recorded_details=_tau_bench_details(info),
    )


def _tau_bench_details(info: dict[str, Any]) -> str:
    reward_info = (info.get("reward_info") or {}).get("info") or {}
    if "r_outputs" in reward_info:
        missing = [o for o, found in (reward_info.get("outputs") or {}).items() if not found]
        return "tau-bench found " + (
            "every required output" if not missing else "these outputs missing: " + ", ".join(missing)
        )
    if "r_actions" in reward_info:
        return "tau-bench found the database " + ("correct" if reward_info["r_actions"] else "wrong")
    return ""


def _tau2_runs(path: Path, document: dict[str, Any]) -> list[RecordedRun]:
    from pydantic import ValidationError
    from tau2.data_model.simulation import Results

    try:
        results = Results.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path} is not a valid tau2 results file: {where}: {first['msg']}") from None
    policy = results.info.environment_info.policy or ""
    trials: dict[str, int] = {}
    runs = []
    for simulation in results.simulations:
        trial = simulation.trial
        if trial is None:  # older files number trials only by order
            trial = trials.get(simulation.task_id, 0)
        trials[simulation.task_id] = trial + 1
        reward_info = simulation.reward_info
        runs.append(
            RecordedRun(
                task_key=str(simulation.task_id),
                trial=int(trial),
                recorded_reward=None if reward_info is None else float(reward_info.reward),
                messages=[{"role": "system", "content": policy}]
                + [_openai_message(m) for m in simulation.messages],
                source_format=TAU2,
                recorded_termination=simulation.termination_reason.value,
                recorded_error=(
                    f"tau2 skipped this sample ({simulation.termination_reason.value})"
                    if simulation.skipped
                    else None
                ),
                recorded_details=_tau2_details(simulation),
            )
        )
    return runs


def _openai_message(message: Any) -> Message:
    """A tau2 message as an OpenAI chat message (tool calls with JSON-string arguments)."""
    role = message.role.value if hasattr(message.role, "value") else str(message.role)
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.id, "content": message.content}
    converted: Message = {"role": role, "content": message.content}
    if getattr(message, "tool_calls", None):
        converted["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return converted


def _tau2_details(simulation: Any) -> str:
    info = simulation.reward_info
    parts = [f"tau2 ended it by {simulation.termination_reason.value}"]
    if info is not None:
        if info.db_check is not None:
            parts.append("database " + ("correct" if info.db_check.db_match else "wrong"))
        missed = [c.info for c in info.communicate_checks or [] if not c.met]
        if missed:
            parts.append("did not communicate: " + ", ".join(missed))
        basis = [b.value if hasattr(b, "value") else str(b) for b in info.reward_basis or []]
        if basis:
            parts.append("reward basis " + "+".join(basis))
    return "; ".join(parts)


# ---------------------------------------------------------------- matching tasks


def match_tasks(runs: Sequence[RecordedRun], tasks: Sequence[Task], where: str) -> list[Task]:
    """The task of each run, by the harness's task id (tau-bench: its index in the task file).

    A record that states its task must agree with the task file on what decides the verdict
    (user, gold actions, outputs); otherwise the wrong task file was given.
    """
    by_key: dict[str, Task] = {}
    for task in tasks:
        key = str(task.index)
        if key in by_key:
            raise ConfigError(
                f"--tasks gives two tasks at index {key} ({by_key[key].id}, {task.id}): "
                "pass the one task file the recorded run used"
            )
        by_key[key] = task
    matched = []
    for run in runs:
        found = by_key.get(run.task_key)
        if found is None:
            raise ConfigError(
                f"{where}: a run of task {run.task_key} has no task at that index in --tasks "
                f"({len(tasks)} tasks): pass the task file the recorded run used"
            )
        if run.recorded_task is not None:
            difference = _task_difference(run.recorded_task, found)
            if difference:
                raise ConfigError(
                    f"{where}: the run of task {run.task_key} records a different task than {found.id} "
                    f"({difference}): pass the task file the recorded run used"
                )
        matched.append(found)
    return matched


def _task_difference(recorded: dict[str, Any], task: Task) -> str | None:
    if recorded.get("user_id") != task.user_id:
        return f"user {recorded.get('user_id')!r} vs {task.user_id!r}"
    actions = [
        {"name": a.get("name"), "kwargs": a.get("kwargs", a.get("arguments", {}))}
        for a in recorded.get("actions") or []
    ]
    if actions != [a.to_dict() for a in task.actions]:
        return "different gold actions"
    if list(recorded.get("outputs") or []) != list(task.outputs):
        return "different required outputs"
    return None


# ---------------------------------------------------------------- replaying


class ReplayAgent:
    """Plays back the recorded assistant turns, one per step."""

    def __init__(self, turns: list[Message]):
        self._turns: Iterator[Message] = iter(turns)

    def act(self, messages: list[Message]) -> Message:
        turn = next(self._turns, None)
        if turn is None:
            raise RecordIncomplete("the record has no further assistant message where the episode goes on")
        return copy.deepcopy(turn)


class ReplayUser:
    """Plays back the recorded user turns."""

    def __init__(self, turns: list[str]):
        self._turns: Iterator[str] = iter(turns)

    def first_message(self) -> str:
        return self._next("the record has no user message to start the conversation")

    def reply(self, agent_message: str) -> str:
        return self._next("the record ends before the user answered the agent")

    def _next(self, problem: str) -> str:
        turn = next(self._turns, None)
        if turn is None:
            raise RecordIncomplete(problem)
        return turn


def replay_turns(run: RecordedRun) -> tuple[list[Message], list[str]]:
    """The assistant and user turns a replay plays back, in the loop's protocol.

    Tool messages are left out (the engine answers afresh); so are assistant messages before
    the user's first one (tau2's greeting). Records of harnesses that executed every tool
    call of a message are split into one call per turn.
    """
    agent_turns: list[Message] = []
    user_turns: list[str] = []
    for message in run.messages:
        role = message.get("role")
        if role == "user":
            user_turns.append(str(message.get("content") or ""))
        elif role == "assistant" and user_turns:
            calls = message.get("tool_calls") or []
            if run.source_format == TAU2 and len(calls) > 1:
                agent_turns.extend({**message, "tool_calls": [call]} for call in calls)
            else:
                agent_turns.append(message)
    return agent_turns, user_turns


def rescore_run(
    run: RecordedRun,
    task: Task,
    *,
    think_tool: bool = True,
    gold_cache: GoldCache | None = None,
    world: AirlineWorld | None = None,
) -> EpisodeResult:
    """Replay one recorded run through `run_episode` and return the recomputed verdict."""
    agent_turns, user_turns = replay_turns(run)
    config = HarnessSettings(
        agent="llm",  # the replay agent stands in for the recorded model
        protocol=TAUGEPA_PROTOCOL,  # tau-bench's scoring rule, which both harnesses' verdicts share
        first_call_only=run.source_format == TAU_BENCH,  # v1 executed only a message's first call
        max_steps=max(1, len(agent_turns)),
        think_tool=think_tool,
        trial=run.trial,
    )
    if run.recorded_error is not None:
        user_turns = []  # nothing to replay: the harness failed, the run is an infrastructure error
    result = run_episode(
        task,
        run.system_prompt,
        config,
        make_agent=lambda *_: ReplayAgent(agent_turns),
        make_user=lambda *_: ReplayUser(user_turns),
        gold_cache=gold_cache or default_gold_cache(),
        world=world or get_world(),
    )
    if run.recorded_error is not None:
        result.feedback = (
            f"Infrastructure error (not the agent's fault): the recorded run failed: {run.recorded_error}"
        )
    return result


def compare(run: RecordedRun, result: EpisodeResult) -> Agreement:
    """Agreement of a rescored episode with the recorded reward, with the reason if they differ."""
    recorded = run.recorded_reward
    recorded_pass = recorded is not None and recorded >= 1.0
    scored = result.outcome in (PASSED, FAILED)
    agrees = scored and recorded is not None and recorded_pass == (result.outcome == PASSED)
    reason = None
    if not agrees:
        said = "no reward" if recorded is None else f"reward {recorded:g}"
        ours = result.feedback.splitlines()[0] if result.feedback else result.outcome
        reason = f"recorded {said}, rescored {result.outcome}: {ours}"
        if result.outcome == FAILED and len(result.feedback.splitlines()) > 1:
            reason += " " + " ".join(line.strip() for line in result.feedback.splitlines()[1:3])
        if run.recorded_details:
            reason += f" ({run.recorded_details})"
    return Agreement(result.task_id, result.trial, recorded, result.outcome, agrees, reason)


def rescore(
    runs: Sequence[RecordedRun],
    tasks: Sequence[Task],
    *,
    source_format: str,
    where: str,
    think_tool: bool = True,
) -> RescoreResult:
    """Rescore every run; entries are scores-file episodes with a `recorded` section added."""
    seen: set[tuple[str, int]] = set()
    for run in runs:
        if (run.task_key, run.trial) in seen:
            raise ConfigError(
                f"{where} has two recorded runs of task {run.task_key}, trial {run.trial}: "
                "pass the results of one run (or number its trials)"
            )
        seen.add((run.task_key, run.trial))
    matched = match_tasks(runs, tasks, where)
    world = get_world()
    entries, agreements = [], []
    for run, task in zip(runs, matched, strict=True):
        result = rescore_run(run, task, think_tool=think_tool, world=world)
        agreement = compare(run, result)
        entry = episode_entry(task, result.to_dict())
        entry["recorded"] = {
            "format": run.source_format,
            "task_id": run.task_key,
            "termination": run.recorded_termination,
            **agreement.to_dict(),
        }
        entries.append(entry)
        agreements.append(agreement)
    order = {task.id: position for position, task in enumerate(tasks)}
    ranked = sorted(range(len(entries)), key=lambda i: (order[entries[i]["task_id"]], entries[i]["trial"]))
    return RescoreResult(
        source_format=source_format,
        entries=[entries[i] for i in ranked],
        agreements=[agreements[i] for i in ranked],
        system_prompts=list(dict.fromkeys(run.system_prompt for run in runs)),
    )
