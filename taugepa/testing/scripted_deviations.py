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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from taugepa.episode.user_sim import instruction_from_prompt
from taugepa.protocol import STOP_MARKER
from taugepa.tasks.model import Action
from taugepa.testing.scripted_models import CONFIRM_QUESTION, ExtraModel, ScriptedModels

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
            return models._agent(messages, digest)
        user_texts = [str(m.get("content") or "") for m in messages if m.get("role") == "user"][1:]
        stated = [code for text in user_texts for code in _RESERVATION.findall(text)]
        plan = models.plays.get(task.id, task.actions)
        if stated:
            plan = [_with_reservation(action, stated[-1], models.writes) for action in plan]
        return models._agent(messages, digest, plan=plan)

    return {DEVIANT_USER_MODEL: deviant_user, TRUSTING_AGENT_MODEL: trusting_agent}


def _with_reservation(action: Action, reservation: str, writes: frozenset[str] | set[str]) -> Action:
    if action.name not in writes or "reservation_id" not in action.kwargs:
        return action
    return replace(action, kwargs={**action.kwargs, "reservation_id": reservation})
