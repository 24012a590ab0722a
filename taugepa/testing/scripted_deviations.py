"""Scripted user simulators that deviate from their task, and an agent that believes them.

For tests of the failure analysis (`taugepa.results.failure_analysis`): a run where some
failures are the simulator's and the rest the agent's, over real HTTP like any scripted run.
The server must run with `Conduct(confirm_writes=True)`, so that the agent asks before each
write and the user has a turn in which to deviate.

- `scripted-deviant-user` plays `scripted-user`, except for the tasks of its `Deviations`:
  for an `invent` task it answers the confirmation question with a yes *and a reservation id
  its instruction does not give* (`INVENTED_RESERVATION`, a real one of another customer);
  for a `stop_early` task it answers the question with `###STOP###`, leaving before the
  request is done.
- `scripted-trusting-agent` plays `scripted-agent` (the task's plays or gold, asking before
  each write), but uses the last reservation id the customer stated for its writes, as an
  agent that trusts the customer would.

`mixed_scenario` builds the run the tests and `scripts/show_failure_causes.py` use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from taugepa.episode.user_sim import instruction_from_prompt
from taugepa.protocol import STOP_MARKER
from taugepa.tasks.model import Action, Task
from taugepa.testing.scripted_models import CONFIRM_QUESTION, ExtraModel, ScriptedModels, offered_tools
from taugepa.world.engine import write_tool_names

DEVIANT_USER_MODEL = "scripted-deviant-user"
TRUSTING_AGENT_MODEL = "scripted-trusting-agent"
INVENTED_RESERVATION = "4WQ150"  # a real reservation of the database, another customer's
_RESERVATION = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6}\b")


@dataclass(frozen=True)
class Deviations:
    """Which tasks' simulated users deviate, and how."""

    invent: frozenset[str] = field(default_factory=frozenset)  # task ids
    stop_early: frozenset[str] = field(default_factory=frozenset)
    invented_reservation: str = INVENTED_RESERVATION


def deviation_models(deviations: Deviations) -> dict[str, ExtraModel]:
    """The two models, to pass as a scripted server's `extra_models`."""

    def deviant_user(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
        messages = body.get("messages") or []
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        task = models.tasks.get(instruction_from_prompt(system) or "")
        last = messages[-1] if messages else {}
        asked = str(last.get("content") or "") if last.get("role") == "user" else ""
        if task is not None and CONFIRM_QUESTION in asked:
            if task.id in deviations.stop_early:
                return {"role": "assistant", "content": STOP_MARKER}
            if task.id in deviations.invent:
                return {
                    "role": "assistant",
                    "content": f"Yes, go ahead. It is for my reservation {deviations.invented_reservation}.",
                }
        return models._user(messages)

    def trusting_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
        messages = body.get("messages") or []
        task = models.task_of(messages)
        if task is None:
            return models._agent(messages, digest, offered=offered_tools(body))
        user_texts = [str(m.get("content") or "") for m in messages if m.get("role") == "user"][1:]
        stated = [code for text in user_texts for code in _RESERVATION.findall(text)]
        plan = models.plays.get(task.id, task.actions)
        if stated:
            plan = [_with_reservation(action, stated[-1], models.writes) for action in plan]
        return models._agent(messages, digest, plan=plan, offered=offered_tools(body))

    return {DEVIANT_USER_MODEL: deviant_user, TRUSTING_AGENT_MODEL: trusting_agent}


@dataclass(frozen=True)
class Scenario:
    """A mixed run: the agent's own mistakes on three tasks, two deviating users, three fine tasks."""

    tasks: tuple[Task, ...]
    plays: dict[str, list[Action]]
    deviations: Deviations
    expected: dict[str, str]  # task id -> the cause the analysis must give


def mixed_scenario(tasks: Sequence[Task]) -> Scenario:
    """From a task set with reservation writes: a wrong argument (one bag too many), a missing
    write, an extra write, a user that invents a reservation, a user that stops early."""
    writes = write_tool_names()
    chosen = [t for t in tasks if any(a.name in writes and "reservation_id" in a.kwargs for a in t.actions)]
    only_bags = ["update_reservation_baggages"]
    bags = next(t for t in chosen if [a.name for a in t.actions if a.name in writes] == only_bags)
    chosen = [bags, *[t for t in chosen if t is not bags][:7]]
    wrong, drop, extra, invent, stop = chosen[:5]
    plays = {
        drop.id: [a for a in drop.actions if a.name not in writes],
        wrong.id: [
            replace(a, kwargs={**a.kwargs, "total_baggages": a.kwargs["total_baggages"] + 1})
            if a.name == "update_reservation_baggages"
            else a
            for a in wrong.actions
        ],
        extra.id: [*extra.actions, Action("cancel_reservation", {"reservation_id": INVENTED_RESERVATION})],
    }
    expected = {
        wrong.id: "wrong_write_arguments",
        drop.id: "missing_write",
        extra.id: "extra_write",
        invent.id: "user_invented_detail",
        stop.id: "user_ended_early",
    }
    deviations = Deviations(invent=frozenset({invent.id}), stop_early=frozenset({stop.id}))
    return Scenario(tuple(chosen), plays, deviations, expected)


def _with_reservation(action: Action, reservation: str, writes: frozenset[str]) -> Action:
    if action.name not in writes or "reservation_id" not in action.kwargs:
        return action
    return replace(action, kwargs={**action.kwargs, "reservation_id": reservation})
