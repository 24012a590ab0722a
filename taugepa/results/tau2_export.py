"""A scores file as a tau2 results file, built with tau2's own types (`tau2.data_model.simulation`).

So tau2's tools read a taugepa run: `tau2 view` shows it, `tau2 evaluate-trajs` re-grades it
(`taugepa.results.tau2_check` does that and compares), and a leaderboard submission folder
can carry it (`taugepa.results.tau2_submission`).

What the conversion does, and why:
- Each scored or errored episode becomes one `SimulationRun`; invalid episodes (nothing ran)
  are left out and listed. The agent's system prompt is not a message in tau2's format: the
  wiki goes into `info.environment_info.policy`.
- tau2's evaluator replays every tool call of a trajectory in a fresh environment and refuses
  the file when a result differs from the recorded one. So every call is checked here against
  tau2's own airline environment in conversation order: a call tau2 answers exactly as taugepa's
  engine did stays a tool call; one it does not (taugepa's `think` tool, calls taugepa refused
  before they reached the engine, taugepa's stricter argument checks) is kept, with what the
  agent got back and why, in the assistant message's `raw_data["taugepa_calls_not_replayed"]`,
  and is not executed, so tau2's replay reaches the database taugepa's episode reached.
- tau2 episodes belong to tau2's own tasks (`tau2-airline`): they carry tau2's task objects and
  ids; tasks in tau-bench v1's format become tau2 tasks whose gold actions and required outputs
  are the task's (reward basis: database and communicated information, tau-bench's rule).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from taugepa._quiet import silence_dependencies
from taugepa.errors import ConfigError
from taugepa.protocol import ERROR, INVALID
from taugepa.results.scores import Scores
from taugepa.results.tau2_replay import Replayer
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks
from taugepa.tasks.model import Task

# taugepa's terminations -> tau2's TerminationReason values. A transfer ends a taugepa episode
# (taugepa's protocol) the way the agent's ###STOP### does: the agent ended it, properly.
TERMINATIONS = {
    "user_stop": "user_stop",
    "agent_stop": "agent_stop",
    "transfer": "agent_stop",
    "max_steps": "max_steps",
    "too_many_errors": "too_many_errors",
    "agent_error": "agent_error",
}
NOT_REPLAYED = "taugepa_calls_not_replayed"


@dataclass
class Tau2Export:
    """The tau2 `Results` built from a scores file, and what the conversion had to say."""

    results: Any  # tau2.data_model.simulation.Results
    episodes: int = 0
    left_out: list[str] = field(default_factory=list)  # "task#trial: why"
    not_replayed: Counter[str] = field(default_factory=Counter)  # reason -> calls
    notes: list[str] = field(default_factory=list)
    recorded_rewards: dict[str, float] = field(default_factory=dict)  # simulation id -> taugepa's reward
    errors: list[str] = field(default_factory=list)  # simulation ids of infrastructure errors
    unknown_cost: Counter[str] = field(default_factory=Counter)  # side -> episodes without a price
    tau2_tasks: int = 0  # episodes of tau2's own tasks

    def lines(self) -> list[str]:
        """What the export tells the user, one line each."""
        lines = [f"{self.episodes} episodes as tau2 simulations ({self.tau2_tasks} of tau2's own tasks)"]
        if self.left_out:
            lines.append(f"left out ({len(self.left_out)}): " + "; ".join(self.left_out[:5]))
        if self.errors:
            lines.append(
                f"{len(self.errors)} infrastructure errors exported as skipped simulations (reward 0)"
            )
        if self.not_replayed:
            counts = ", ".join(f"{n} {why}" for why, n in sorted(self.not_replayed.items()))
            lines.append(f"tool calls tau2 does not replay, kept in raw_data: {counts}")
        for side, count in sorted(self.unknown_cost.items()):
            lines.append(f"{count} episodes with no price for the {side} model: cost 0.0, as tau2 records it")
        lines.extend(self.notes)
        return lines


def protocol_note(run: dict[str, Any]) -> tuple[str, str]:
    """The conversation protocol of the run (`taugepa.results.protocols`) and a line saying it."""
    from taugepa.results.protocols import protocol_label, run_protocol

    protocol = run_protocol(run)
    if run.get("protocol") is None:
        return str(protocol["name"]), (
            "conversation protocol: not recorded in this scores file (written before --protocol): "
            "taugepa's own, not tau2's orchestrator"
        )
    return str(protocol["name"]), f"conversation protocol: {protocol_label(protocol)}"


def export_tau2(scores: Scores) -> Tau2Export:
    """Build tau2 `Results` from a loaded scores file; ConfigError when it cannot be done."""
    silence_dependencies()
    from tau2.data_model.simulation import Results

    run = scores.run
    tasks = _tasks_by_id(run)
    export = Tau2Export(results=None)
    _, line = protocol_note(run)
    export.notes.append(line)
    wiki = _wiki_text(run, scores.episodes)
    replayer = Replayer()
    simulations: list[Any] = []
    tau2_tasks: dict[str, Any] = {}
    timestamp = _written_at(scores.path)
    for entry in scores.episodes:
        label = f"{entry['task_id']}#{entry['trial']}"
        if entry["outcome"] == INVALID:
            export.left_out.append(f"{label}: invalid task, nothing ran")
            continue
        if not entry.get("messages"):
            raise ConfigError(
                f"{scores.path}: episode {label} records no transcript: only scores files that keep "
                "each episode's messages can be exported"
            )
        task = _tau2_task(entry, tasks.get(entry["task_id"]), tau2_tasks)
        simulation = _simulation(entry, task, replayer, export, timestamp)
        simulation.reward_info.info["conversation_protocol"] = line.removeprefix("conversation protocol: ")
        tau2_tasks.setdefault(task.id, task)
        simulations.append(simulation)
        export.recorded_rewards[simulation.id] = float(entry.get("reward") or 0.0)
        if entry["outcome"] == ERROR:
            export.errors.append(simulation.id)
        export.tau2_tasks += int(_is_tau2_task(tasks.get(entry["task_id"])))
    if not simulations:
        raise ConfigError(f"{scores.path}: no episode ran (all invalid): nothing to export")
    export.episodes = len(simulations)
    export.results = Results(
        timestamp=timestamp or None,
        info=_info(run, wiki),
        tasks=list(tau2_tasks.values()),
        simulations=simulations,
    )
    return export


# ---------------------------------------------------------------- tasks


def _tasks_by_id(run: dict[str, Any]) -> dict[str, Task]:
    """The run's tasks, reloaded from the sources it records when they still hash the same."""
    found: dict[str, Task] = {}
    for source in run.get("task_sources") or []:
        for spec in (source.get("spec"), source.get("path")):
            if not spec:
                continue
            try:
                collection = load_tasks([spec])
            except ConfigError:
                continue
            if collection.sources and collection.sources[0].sha256 == source.get("sha256"):
                found.update(collection.by_id())
                break
    return found


def _is_tau2_task(task: Task | None) -> bool:
    return task is not None and task.source == TAU2_AIRLINE


def _tau2_task(entry: dict[str, Any], task: Task | None, taken: dict[str, Any]) -> Any:
    """tau2's own task for a tau2-airline episode, else a tau2 task made from the taugepa task."""
    from tau2.data_model.tasks import Action, EvaluationCriteria, RewardType, UserScenario
    from tau2.data_model.tasks import Task as Tau2Task

    if _is_tau2_task(task):
        own = _tau2_own_tasks().get(str(task.index))  # type: ignore[union-attr]
        if own is not None:
            if own.id not in taken or taken[own.id] is own:
                return own
            return own.model_copy(update={"id": entry["task_id"]})  # the same task under two names
    task_id = entry["task_id"]
    if task_id in taken:
        return taken[task_id]
    actions = [
        Action(action_id=f"{task_id}_{number}", name=a["name"], arguments=dict(a.get("kwargs") or {}))
        for number, a in enumerate(entry.get("expected_actions") or [])
    ]
    instruction = task.instruction if task else "(the task file is no longer where the run found it)"
    return Tau2Task(
        id=task_id,
        user_scenario=UserScenario(instructions=instruction),
        evaluation_criteria=EvaluationCriteria(
            actions=actions,
            communicate_info=list(entry.get("outputs_required") or []),
            reward_basis=[RewardType.DB, RewardType.COMMUNICATE],
        ),
    )


_OWN_TASKS: dict[str, Any] = {}


def _tau2_own_tasks() -> dict[str, Any]:
    """tau2's airline tasks by id, as its leaderboard checks them (the base split)."""
    if not _OWN_TASKS:
        from tau2.domains.airline.environment import get_tasks

        _OWN_TASKS.update({task.id: task for task in get_tasks(None)})
    return _OWN_TASKS


# ---------------------------------------------------------------- simulations


def _simulation(
    entry: dict[str, Any], task: Any, replayer: Replayer, export: Tau2Export, timestamp: str
) -> Any:
    from tau2.data_model.simulation import SimulationRun, TerminationReason

    messages = _messages(entry, replayer, export)
    termination = TERMINATIONS.get(str(entry.get("termination")))
    if termination is None:
        termination = "user_error" if _user_failed(entry) else "agent_error"
    usage = entry.get("usage") or {}
    duration = float(entry.get("duration_s") or 0.0)
    return SimulationRun(
        id=f"taugepa-{entry['task_id']}-{entry['trial']}",
        task_id=task.id,
        timestamp=timestamp or "",
        start_time=timestamp or "",
        end_time=timestamp or "",
        duration=duration,
        termination_reason=TerminationReason(termination),
        agent_cost=_cost(usage, "agent", export),
        user_cost=_cost(usage, "user", export),
        reward_info=_reward_info(entry, task),
        messages=messages,
        trial=int(entry["trial"]),
        seed=entry.get("seed"),
        skipped=entry["outcome"] == ERROR,
    )


def _user_failed(entry: dict[str, Any]) -> bool:
    return "user model" in str(entry.get("feedback") or "")


def _cost(usage: dict[str, Any], side: str, export: Tau2Export) -> float:
    """What the side's model cost: 0.0 when no model played it, and, as tau2 records it, when
    the model's price is unknown (tau2's metrics and submission checks need a number)."""
    if not usage:
        return 0.0
    value = (usage.get(side) or {}).get("cost_usd")
    if value is None:
        export.unknown_cost[side] += 1
        return 0.0
    return float(value)


def _reward_info(entry: dict[str, Any], task: Any) -> Any:
    from tau2.data_model.simulation import CommunicateCheck, DBCheck, RewardInfo

    reward = float(entry.get("reward") or 0.0)
    missing = set(entry.get("outputs_missing") or [])
    db_match = bool(entry.get("db_digest")) and entry.get("db_digest") == entry.get("gold_digest")
    criteria = task.evaluation_criteria
    return RewardInfo(
        reward=reward,
        db_check=DBCheck(db_match=db_match, db_reward=1.0 if db_match else 0.0),
        communicate_checks=[
            CommunicateCheck(info=info, met=info not in missing, justification="taugepa's output check")
            for info in entry.get("outputs_required") or []
        ],
        reward_basis=criteria.reward_basis if criteria else None,
        info={
            "graded_by": "taugepa",
            "outcome": entry["outcome"],
            "feedback": entry.get("feedback"),
            "taugepa_task_id": entry["task_id"],
            "failure": entry.get("failure"),
        },
    )


def _messages(entry: dict[str, Any], replayer: Replayer, export: Tau2Export) -> list[Any]:
    """The transcript in tau2's message types, tool calls checked against tau2's environment."""
    from tau2.data_model.message import AssistantMessage, ToolCall, ToolMessage, UserMessage

    transcript = [m for m in entry["messages"] if m.get("role") != "system"]
    records = list(entry.get("tool_calls") or [])
    answered = sum(1 for m in transcript if m.get("role") == "tool")
    executed = [bool(r.get("executed", True)) for r in records] if len(records) == answered else None
    replayer.start()
    out: list[Any] = []
    ids: set[str] = set()
    for index, message in enumerate(transcript):
        role = message.get("role")
        turn = len(out)
        if role == "user":
            out.append(UserMessage(role="user", content=_text(message.get("content")), turn_idx=turn))
        elif role == "assistant":
            kept, dropped, answers = [], [], []
            for call, answer, position in _answers(transcript, index):
                call_id = _unique_id(str(call.get("id") or ""), ids)
                recorded = _text((answer or {}).get("content")) or ""
                name, arguments = _call_parts(call)
                ran = executed[position] if executed is not None and position is not None else True
                why = replayer.check(name, arguments, recorded, ran) if answer else "no recorded result"
                if why is None:
                    kept.append(ToolCall(id=call_id, name=name, arguments=arguments, requestor="assistant"))
                    answers.append((call_id, recorded))
                else:
                    export.not_replayed[why] += 1
                    dropped.append(
                        {"id": call_id, "name": name, "arguments": arguments, "result": recorded, "why": why}
                    )
            out.append(
                AssistantMessage(
                    role="assistant",
                    content=_text(message.get("content")) or None,
                    tool_calls=kept or None,
                    turn_idx=turn,
                    raw_data={NOT_REPLAYED: dropped} if dropped else None,
                )
            )
            for call_id, content in answers:
                out.append(
                    ToolMessage(
                        id=call_id,
                        role="tool",
                        content=content,
                        requestor="assistant",
                        error=content.startswith("Error:"),
                        turn_idx=len(out),
                    )
                )
    return out


def _answers(
    transcript: list[dict[str, Any]], index: int
) -> list[tuple[dict[str, Any], dict[str, Any] | None, int | None]]:
    """Each call of the assistant message at `index` with the tool message that answers it and
    that message's place among all tool messages (its record's index).

    The answers are the tool messages right after the call; they are matched by id when the
    ids tell them apart, else in order (recorded runs may repeat ids or leave them empty).
    """
    calls = list(transcript[index].get("tool_calls") or [])
    before = sum(1 for m in transcript[:index] if m.get("role") == "tool")
    following = []
    for message in transcript[index + 1 :]:
        if message.get("role") != "tool":
            break
        following.append(message)
    call_ids = [str(c.get("id") or "") for c in calls]
    answer_ids = [str(m.get("tool_call_id") or "") for m in following]
    by_id = all(call_ids) and len(set(call_ids)) == len(call_ids) and len(set(answer_ids)) == len(answer_ids)
    matched = []
    for number, call in enumerate(calls):
        if by_id:
            spot = answer_ids.index(call_ids[number]) if call_ids[number] in answer_ids else None
        else:
            spot = number if number < len(following) else None
        answer = following[spot] if spot is not None else None
        matched.append((call, answer, None if spot is None else before + spot))
    return matched


def _unique_id(call_id: str, taken: set[str]) -> str:
    """The call's id, or a new one when it is empty or already used in the episode (tau2 pairs
    calls and results by id)."""
    if not call_id or call_id in taken:
        call_id = f"taugepa_call_{len(taken)}"
    taken.add(call_id)
    return call_id


def _call_parts(call: dict[str, Any]) -> tuple[str, Any]:
    function = call.get("function") or {}
    raw = function.get("arguments")
    try:
        arguments = json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
    except ValueError:
        arguments = raw
    return str(function.get("name") or ""), arguments


def _text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


# ---------------------------------------------------------------- run information


def _written_at(path: str) -> str:
    """When the scores file was written (the end of its run): the simulations' timestamps."""
    import os
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC).isoformat()
    except OSError:
        return ""


def _wiki_text(run: dict[str, Any], episodes: list[dict[str, Any]]) -> str:
    """The wiki the run used: its file when it still hashes the same, else the system prompt."""
    from pathlib import Path

    wiki = run.get("wiki") or {}
    try:
        text = Path(str(wiki.get("path"))).read_text(encoding="utf-8")
        if hashlib.sha256(text.encode()).hexdigest() == wiki.get("sha256"):
            return text
    except (OSError, ValueError):
        pass
    for entry in episodes:
        for message in entry.get("messages") or []:
            if message.get("role") == "system" and message.get("content"):
                return str(message["content"])
    return "(the wiki is not recorded in the scores file)"


def _info(run: dict[str, Any], wiki: str) -> Any:
    from tau2.data_model.simulation import AgentInfo, Info, UserInfo
    from tau2.environment.environment import EnvironmentInfo

    agent = str(run.get("agent") or "llm")
    models = run.get("models") or {}
    llm = run.get("llm") or {}
    sampling = {k: llm[k] for k in ("temperature", "seed") if k in llm} or None
    max_steps = int(run.get("max_steps") or 0)
    return Info(
        git_commit=f"taugepa {run.get('taugepa_version', '?')}",
        num_trials=int(run.get("trials") or 1),
        max_steps=max_steps,
        max_errors=int(run.get("max_errors") or max_steps),  # taugepa's protocol: no separate limit
        user_info=UserInfo(
            implementation="taugepa_user_simulator" if models.get("user") else "taugepa_scripted_user",
            llm=models.get("user"),
            llm_args=sampling,
        ),
        agent_info=AgentInfo(
            implementation=f"taugepa_{agent}_agent",
            llm=models.get("agent") or f"taugepa-{agent}",
            llm_args=sampling,
        ),
        environment_info=EnvironmentInfo(domain_name="airline", policy=wiki),
        seed=llm.get("seed"),
    )
