"""The one place an episode happens: agent, user and engine take turns, then a verdict.

The pytest plugin, the GEPA adapter and the CLI all call `run_episode`; there is no other
agent loop. Each agent step is one assistant message; its tool calls are executed in order
(a replay of a tau-bench v1 recording, `first_call_only`, executes only the first, as v1
did, and answers the others with an error); a plain message goes to the user. The
protocol (`HarnessSettings.protocol`) decides the rest:

- `tau2` (default): tau2's orchestrator, step for step (`taugepa.episode.tau2_protocol`): the
  agent's history opens with tau2's greeting, the user ends the episode with `###STOP###`,
  `###TRANSFER###` or `###OUT-OF-SCOPE###`, the agent never does (a transfer does not end
  it), and tau2's step and tool-error limits apply (a step is any message);
- `taugepa`: the user's `###STOP###`, the agent's `###STOP###` or a transfer to a human agent
  ends the episode; the step limit counts agent messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taugepa.agents.interface import AgentContext, AgentFactory
from taugepa.episode.agent_choice import SCRIPTED_AGENTS, choose_agent
from taugepa.episode.agent_player import AGENT_ERROR, AgentCrashed, build_agent
from taugepa.episode.agent_policy import agent_policy_text
from taugepa.episode.builtin_agents import ScriptedUser
from taugepa.episode.efficiency import episode_efficiency
from taugepa.episode.model_ends import answer_record, end_line, overflow_record, turn_fields
from taugepa.episode.scoring import expected_writes, score_episode
from taugepa.episode.settings import TAU2_PROTOCOL, HarnessSettings
from taugepa.episode.tau2_protocol import GREETING, TOOL_CHOICE, Tau2Protocol, tau2_protocol
from taugepa.errors import ConfigError, InfrastructureError
from taugepa.guards.limits import MAX_TOOL_ARGUMENT_CHARS, MAX_TOOL_ARGUMENT_DEPTH, MAX_TOOL_NAME_CHARS
from taugepa.guards.safe_json import UnsafeJSON, nesting_depth, parse_json
from taugepa.llm.answer_ends import ContextOverflow, answer_end
from taugepa.llm.usage import UsageMeter
from taugepa.protocol import ERROR, INVALID, Agent, Message, ToolCallRecord, UserSimulator, has_stop_marker
from taugepa.rules.compliance import ComplianceMonitor, policy_for
from taugepa.tasks.gold import Gold, GoldCache, default_gold_cache
from taugepa.tasks.model import Task
from taugepa.world.engine import TRANSFER_TOOL, AirlineWorld, Engine, get_world

# A v1 replay's answer to a message's second and later calls (tau-bench v1 ran only the first).
ONE_CALL_PER_TURN = (
    "Error: only one tool call per message is executed; this call was skipped. Call the tools one at a time."
)


@dataclass
class EpisodeResult:
    """Everything about one episode that a report, a scores file or GEPA's reflection needs."""

    task_id: str
    trial: int
    outcome: str
    reward: float
    termination: str
    feedback: str
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    expected_actions: list[dict[str, Any]] = field(default_factory=list)
    expected_writes: list[dict[str, Any]] = field(default_factory=list)
    outputs_required: list[str] = field(default_factory=list)
    outputs_missing: list[str] = field(default_factory=list)
    db_digest: str | None = None
    gold_digest: str | None = None
    steps: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    efficiency: dict[str, Any] = field(default_factory=dict)  # see taugepa.episode.efficiency
    compliance: dict[str, Any] = field(default_factory=dict)  # see taugepa.rules.compliance
    duration_s: float = 0.0
    model_end: dict[str, Any] = field(default_factory=dict)  # see taugepa.episode.model_ends

    @property
    def score(self) -> float | None:
        """1.0 or 0.0 for a scored episode; None for invalid tasks and infrastructure errors."""
        return None if self.outcome in (INVALID, ERROR) else self.reward

    @property
    def taken_actions(self) -> list[dict[str, Any]]:
        return [
            {"name": c["name"], "kwargs": c["arguments"], "is_error": c["is_error"]}
            for c in self.tool_calls
            if c["executed"]
        ]

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain data (what `dataclasses.asdict` gives, several times faster)."""
        return {name: _plain_copy(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def _plain_copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, tuples; other values are immutable here)."""
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain_copy(item) for item in value)
    return value


UserFactory = Callable[[Task, HarnessSettings], UserSimulator]


def builtin_user(task: Task, config: HarnessSettings) -> UserSimulator:
    """The LLM user simulator when the run has models; a scripted user for `oracle` and `null`
    (and for a user's agent run without models)."""
    if config.agent in SCRIPTED_AGENTS or (config.agent != "llm" and config.llm is None):
        return ScriptedUser(task)
    from taugepa.episode.user_sim import make_llm_user

    return make_llm_user(task, _with_llm(config))


def _with_llm(config: HarnessSettings) -> HarnessSettings:
    if config.llm is None:
        raise ConfigError("the llm agent needs models: pass --agent-model NAME (HarnessSettings.llm)")
    return config


def run_episode(
    task: Task,
    wiki: str,
    config: HarnessSettings,
    *,
    make_agent: AgentFactory | None = None,
    make_user: UserFactory = builtin_user,
    guard: Callable[[Any], Any] | None = None,
    gold_cache: GoldCache | None = None,
    world: AirlineWorld | None = None,
) -> EpisodeResult:
    """Run one task once with `wiki` as the agent's policy and return its verdict.

    The agent is the one `config.agent` names (`make_agent`, a factory taking an
    AgentContext, overrides it); `guard` wraps both players (the runner's cancellation).
    Never raises for anything the agent or the endpoint does: an invalid task gives
    outcome `invalid`, an InfrastructureError or an exception inside the agent's own code
    gives outcome `error`. A configuration error (ConfigError) is raised.
    """
    started = time.perf_counter()
    world = world or get_world()
    gold = (gold_cache or default_gold_cache()).get(task, world)
    result = EpisodeResult(
        task_id=task.id,
        trial=config.trial,
        outcome=INVALID,
        reward=0.0,
        termination="not_started",
        feedback="",
        expected_actions=[a.to_dict() for a in task.actions],
        expected_writes=expected_writes(task),
        outputs_required=list(task.outputs),
        gold_digest=gold.db_digest,
        seed=config.seed,
    )
    if not gold.valid:
        result.feedback = f"Invalid task: {gold.invalid_reason}"
    else:
        _play(task, wiki, config, gold, world, make_agent, make_user, guard or _as_is, result)
    result.duration_s = round(time.perf_counter() - started, 6)
    return result


def _play(
    task: Task,
    wiki: str,
    config: HarnessSettings,
    gold: Gold,
    world: AirlineWorld,
    make_agent: AgentFactory | None,
    make_user: UserFactory,
    guard: Callable[[Any], Any],
    result: EpisodeResult,
) -> None:
    world.preload()  # the database loads while the first requests are in flight (no-op once loaded)
    descriptions = dict(config.tool_descriptions) if config.tool_descriptions else None
    engine = world.new_engine(think_tool=config.offers_think_tool, tool_descriptions=descriptions)
    policy_text = agent_policy_text(wiki, config.fewshot)
    tau2 = tau2_protocol() if config.protocol == TAU2_PROTOCOL else None
    tools = tau2.tool_schemas(descriptions) if tau2 is not None else engine.tool_schemas
    system_prompt = tau2.agent_system_prompt(policy_text) if tau2 is not None else policy_text
    messages: list[Message] = [{"role": "system", "content": system_prompt}]
    if tau2 is not None:  # the agent's history opens with tau2's greeting
        messages.append({"role": "assistant", "content": tau2.greeting, GREETING: True})
    records: list[ToolCallRecord] = []
    result.messages = messages
    monitor = ComplianceMonitor(
        task,
        policy_for(config.compliance_policy if config.compliance_policy is not None else wiki),
        engine,
        messages,
        conversation_rules=config.agent not in SCRIPTED_AGENTS,  # oracle and null never talk before acting
    )
    if make_agent is None:
        choice = choose_agent(config.agent)
        make_agent, label = choice.factory, choice.label
    else:
        label = getattr(make_agent, "__qualname__", type(make_agent).__name__)
    context = AgentContext(
        task=task,
        wiki=wiki,
        system_prompt=system_prompt,
        tools=tools,
        tool_choice=TOOL_CHOICE if tau2 is not None else None,
        wire_style="tau2" if tau2 is not None else "openai",
        llm=config.llm,
        seed=config.seed,
        trial=config.trial,
        max_steps=config.max_steps,
    )
    players: list[Any] = []
    try:
        players.append(guard(build_agent(make_agent, context, label)))
        players.append(guard(make_user(task, config)))
        agent, user = players
        turn = _Turn(engine, messages, records, monitor, config.first_call_only)
        if tau2 is not None:
            result.termination = _converse_tau2(agent, user, turn, config.max_steps, tau2, result)
        else:
            messages.append({"role": "user", "content": user.first_message(), **_said(user)})
            result.termination = _converse(agent, user, turn, config.max_steps, result)
    except ContextOverflow as exc:  # the model's limit: the episode ends, the run goes on
        user = players[1] if len(players) > 1 else None
        result.model_end = overflow_record(exc, messages, tools, user, players[0] if players else None)
        result.termination = result.model_end["termination"]
    except (InfrastructureError, AgentCrashed) as exc:
        crashed = isinstance(exc, AgentCrashed)
        result.outcome, result.reward = ERROR, 0.0
        result.termination = AGENT_ERROR if crashed else "error"
        result.feedback = (
            exc.feedback
            if isinstance(exc, AgentCrashed)
            else f"Infrastructure error (not the agent's fault): {exc}"
        )
        result.tool_calls = [r.to_dict() for r in records]
        result.usage = _usage(players)
        return
    if result.model_end and result.model_end["side"] != "agent":  # the user simulator's limit
        result.outcome, result.reward = ERROR, 0.0
        result.feedback = end_line(result.model_end)
        result.tool_calls = [r.to_dict() for r in records]
        result.usage = _usage(players)
        return
    result.usage = _usage(players)
    result.tool_calls = [r.to_dict() for r in records]
    result.efficiency = episode_efficiency(messages, result.tool_calls, result.usage, result.steps)
    result.compliance = monitor.finish(records)
    result.db_digest = engine.db_digest()
    verdict = score_episode(
        task, gold, result.db_digest, messages, records, result.termination, protocol=config.protocol
    )
    result.outcome, result.reward, result.feedback = verdict.outcome, verdict.reward, verdict.feedback
    if result.model_end:  # the agent model's limit ended it: say so first
        result.feedback = end_line(result.model_end) + "\n" + result.feedback
    result.outputs_missing = verdict.outputs_missing


def _said(user: Any) -> dict[str, Any]:
    """The finish_reason and refusal of the user simulator's last answer (LLM users only)."""
    return turn_fields(getattr(user, "last_answer", None))


def _as_is(player: Any) -> Any:
    return player


def _usage(players: list[Any]) -> dict[str, Any]:
    """LLM usage of the agent and user (their `calls`), or {} when neither called a model."""
    calls = [call for player in players for call in getattr(player, "calls", [])]
    return UsageMeter(calls).to_dict() if calls else {}


@dataclass
class _Turn:
    """What an agent's tool calls act on and are recorded in."""

    engine: Engine
    messages: list[Message]
    records: list[ToolCallRecord]
    monitor: ComplianceMonitor
    first_call_only: bool = False

    def tool_calls(self, tool_calls: list[dict[str, Any]], step: int) -> tuple[bool, int]:
        return _run_tool_calls(tool_calls, step, self)


def _converse(agent: Agent, user: UserSimulator, turn: _Turn, max_steps: int, result: EpisodeResult) -> str:
    """taugepa's protocol: alternate agent and user until someone ends the episode."""
    messages = turn.messages
    for step in range(1, max_steps + 1):
        result.steps = step
        reply = agent.act(messages)
        tool_calls = reply.get("tool_calls") or []
        messages.append(reply)
        end = answer_end(reply)
        if end is not None:  # cut, filtered or refused: nothing of it is executed or passed on
            result.model_end = answer_record("agent", end, reply)
            return end
        if tool_calls:
            transferred, _ = turn.tool_calls(tool_calls, step)
            if transferred:
                return "transfer"
            continue
        text = reply.get("content") or ""
        if has_stop_marker(text):
            return "agent_stop"
        answer = user.reply(text)
        said = getattr(user, "last_answer", None)
        messages.append({"role": "user", "content": answer, **turn_fields(said)})
        end = answer_end(said)
        if end is not None:
            result.model_end = answer_record("user", end, said or {})
            return end
        if has_stop_marker(answer):
            return "user_stop"
    return "max_steps"


def _converse_tau2(
    agent: Agent, user: UserSimulator, turn: _Turn, max_steps: int, tau2: Tau2Protocol, result: EpisodeResult
) -> str:
    """tau2's orchestrator (`tau2.orchestrator.Orchestrator.run`): every message is a step.

    The user speaks first (to the greeting), only the user ends the episode, all the calls
    of a message run as one step, and after every step that does not go to the tools the
    step limit and then the error limit are checked (the later wins, even over a user stop).
    """
    messages = turn.messages
    steps = errors = 0
    ended: str | None = None
    to, agent_text = "user", ""
    pending: list[dict[str, Any]] = []
    while ended is None:
        if to == "user":
            text = user.reply(agent_text) if steps else user.first_message()
            said = getattr(user, "last_answer", None)
            messages.append({"role": "user", "content": text, **turn_fields(said)})
            end = answer_end(said)
            if end is not None:  # the user model's limit
                result.model_end = answer_record("user", end, said or {})
                return end
            ended = "user_stop" if tau2.is_user_stop(text) else None
            to = "agent"
        elif to == "agent":
            result.steps += 1
            reply = agent.act(messages)
            messages.append(reply)
            end = answer_end(reply)
            if end is not None:  # cut, filtered or refused: nothing of it is executed or passed on
                result.model_end = answer_record("agent", end, reply)
                return end
            pending = reply.get("tool_calls") or []
            agent_text, to = (reply.get("content") or ""), ("tools" if pending else "user")
        else:
            errors += turn.tool_calls(pending, result.steps)[1]
            to = "agent"
        steps += 1
        if to == "tools":
            continue
        if steps >= max_steps:
            ended = "max_steps"
        if errors >= tau2.max_errors:
            ended = "too_many_errors"
    return ended


def _run_tool_calls(tool_calls: list[dict[str, Any]], step: int, turn: _Turn) -> tuple[bool, int]:
    """Execute the calls in order; (whether the agent transferred the user, how many failed).

    The monitor checks each write against the policy on the database just before it runs.
    A v1 replay (`first_call_only`) executes the first call and refuses the others.
    """
    transferred, failed = False, 0
    for position, call in enumerate(tool_calls):
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        if len(name) > MAX_TOOL_NAME_CHARS:  # not a tool either way; the error need not echo it all
            name = name[:MAX_TOOL_NAME_CHARS] + "…"
        raw_arguments = function.get("arguments")
        if position > 0 and turn.first_call_only:
            content, is_error, executed, arguments = ONE_CALL_PER_TURN, True, False, raw_arguments
        else:
            arguments, parse_error = _parse_arguments(name, raw_arguments)
            if parse_error:
                content, is_error = parse_error, True
            else:
                turn.monitor.before_call(name, arguments, step, len(turn.records))
                outcome = turn.engine.call(name, arguments)
                content, is_error = outcome.content, outcome.is_error
                turn.monitor.after_call(is_error)
                transferred = transferred or (name == TRANSFER_TOOL and not is_error)
            executed = True
        failed += is_error
        turn.records.append(ToolCallRecord(step, name, arguments, content, is_error, executed))
        turn.messages.append(
            {"role": "tool", "tool_call_id": call.get("id", ""), "name": name, "content": content}
        )
    return transferred, failed


def _parse_arguments(name: str, raw: Any) -> tuple[Any, str | None]:
    """Tool-call arguments arrive as a JSON string; a malformed one is the agent's error.

    So is one too long or nested too deep, refused before it is decoded (5,000 levels of
    brackets used to raise RecursionError out of the episode): whatever the model sends,
    the agent gets an `Error: ...` tool result and the episode goes on.
    """
    if isinstance(raw, dict):
        return raw, None
    if raw is None or raw == "":
        return {}, None
    if not isinstance(raw, str):
        return raw, f"Error: the arguments of your call to {name} are not valid JSON (not a string)."
    if len(raw) > MAX_TOOL_ARGUMENT_CHARS:
        return raw, (
            f"Error: the arguments of your call to {name} are {len(raw):,} characters long; "
            f"at most {MAX_TOOL_ARGUMENT_CHARS:,} are accepted."
        )
    brackets = raw.count("[") + raw.count("{")
    depth = nesting_depth(raw) if brackets > MAX_TOOL_ARGUMENT_DEPTH else 0
    if depth > MAX_TOOL_ARGUMENT_DEPTH:
        return raw, (
            f"Error: the arguments of your call to {name} nest {depth:,} levels deep; "
            f"at most {MAX_TOOL_ARGUMENT_DEPTH} are accepted."
        )
    try:
        return parse_json(raw, max_depth=MAX_TOOL_ARGUMENT_DEPTH), None
    except UnsafeJSON as exc:
        return raw, f"Error: the arguments of your call to {name} are not valid JSON ({exc})."
