"""Generate policy-compliant airline tasks from the engine's database, seeded and reproducible.

Each scenario (a builder in `booking`, `changes`, `bags`, `cancellation` or `compensation`,
on the core in `base`) picks real users, reservations and flights, computes the gold actions
with the same facts the audit's policy rules use (free bags, cancellation grounds, flown
segments, compensation amounts, itineraries from the airline's own search tools), and
writes an instruction that states everything the agent needs. Refusal scenarios
ask for something the policy forbids: their gold leaves the database unchanged (reads only,
or a transfer to a human agent). The only words tau2's policy prescribes are its transfer
message, which comes after the transfer call that ends an episode, so refusals carry no
required output; questions whose answer the policy and database fix (free bags, the cost of
a change) do.

Every task is verified before it is kept: its gold must replay in the engine, and the audit
must find nothing but `info` in it. Difficulty counts the writes and the reasoning a task
needs (computing free bags, splitting a payment, finding the cheapest flight, locating a
reservation from its description, refusing).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taugepa.errors import TaugepaError
from taugepa.generate import bags, booking, cancellation, changes, compensation
from taugepa.generate.base import Draft, Generator
from taugepa.rules.audit import CLEAN, audit_task
from taugepa.tasks.loading import parse_v1_tasks
from taugepa.world.engine import AirlineWorld, write_tool_names
from taugepa.world.policy import Policy

MAX_ATTEMPTS = 400
# The built-in `taugepa-airline` set (taugepa/data/taugepa_airline.json) is exactly
#   taugepa generate --n 300 --seed 2024 --out taugepa/data/taugepa_airline.json
# (against tau2's policy, the default); tests/test_generator.py checks it byte for byte.
BUILTIN_RECIPE = {"n": 300, "seed": 2024}


class GeneratorError(TaugepaError):
    """The generator cannot produce the tasks asked for."""


# Scenario name -> (weight, builder). The order is part of the output: `schedule` lists the names
# in this order before shuffling them, so reordering changes every generated set.
SCENARIOS: dict[str, tuple[int, Callable[[Generator], Draft | None]]] = {
    "book_one_way": (8, lambda g: booking.book(g, "one_way", cheapest=False)),
    "book_round_trip": (6, lambda g: booking.book(g, "round_trip", cheapest=False)),
    "book_cheapest": (6, lambda g: booking.book(g, g.rng.choice(("one_way", "round_trip")), cheapest=True)),
    "change_dates": (8, changes.change_dates),
    "cabin_change": (7, lambda g: changes.cabin_change(g, with_bags=False)),
    "cabin_and_bags": (4, lambda g: changes.cabin_change(g, with_bags=True)),
    "add_bags": (7, bags.add_bags),
    "update_passenger": (6, changes.update_passenger),
    "cancel": (8, cancellation.cancel),
    "cancel_and_rebook": (4, cancellation.cancel_and_rebook),
    "compensation": (6, compensation.compensation),
    "bag_question": (3, bags.bag_question),
    "cancel_refused": (8, cancellation.cancel_refused),
    "cancel_flown": (4, cancellation.cancel_flown),
    "change_refused": (9, changes.change_refused),
}


def schedule(n: int, rng: random.Random) -> list[str]:
    """`n` scenario names in proportion to their weights (largest remainders), shuffled."""
    total = sum(weight for weight, _ in SCENARIOS.values())
    exact = {name: n * weight / total for name, (weight, _) in SCENARIOS.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda k: (exact[k] - counts[k], k), reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[name] += 1
    names = [name for name in SCENARIOS for _ in range(counts[name])]
    rng.shuffle(names)
    return names


@dataclass
class Generated:
    tasks: list[dict[str, Any]]
    rejected: Counter[str]

    def statistics(self) -> dict[str, Any]:
        scenarios = Counter(t["scenario"] for t in self.tasks)
        refusals = sum(1 for t in self.tasks if t["refusal"])
        return {
            "tasks": len(self.tasks),
            "scenarios": dict(sorted(scenarios.items())),
            "difficulty": dict(sorted(Counter(t["difficulty"] for t in self.tasks).items())),
            "refusals": refusals,
            "refusal_share": round(refusals / len(self.tasks), 3) if self.tasks else 0.0,
            "with_outputs": sum(1 for t in self.tasks if t["outputs"]),
            "writes": dict(
                sorted(
                    Counter(
                        sum(1 for a in t["actions"] if a["name"] in write_tool_names()) for t in self.tasks
                    ).items()
                )
            ),
            "rejected_drafts": dict(sorted(self.rejected.items())),
        }


def generate_tasks(n: int, seed: int, policy: Policy, world: AirlineWorld | None = None) -> Generated:
    """`n` verified tasks from seed `seed`, in tau-bench v1 format (plus `scenario` and `refusal`)."""
    if n < 1:
        raise GeneratorError(f"--n must be at least 1, got {n}")
    generator = Generator(seed, policy, world)
    tasks = []
    for name in schedule(n, generator.rng):
        _, build = SCENARIOS[name]
        for _attempt in range(MAX_ATTEMPTS):
            draft = build(generator)
            if draft is None:
                continue
            problems = verify(draft.to_task(), policy, generator.world)
            if problems:
                generator.rejected[name] += 1
                continue
            generator.seen.add(draft.key)
            tasks.append(draft.to_task())
            break
        else:
            raise GeneratorError(
                f"could not build a '{name}' task in {MAX_ATTEMPTS} attempts (seed {seed}): "
                "the database has too few fitting cases; ask for fewer tasks"
            )
    return Generated(tasks=tasks, rejected=generator.rejected)


def verify(task: dict[str, Any], policy: Policy, world: AirlineWorld) -> list[str]:
    """Why a generated task is not sound (empty if it is): it must load, replay and audit clean."""
    try:
        (parsed,) = parse_v1_tasks(json.dumps([task]), "<generated>")
    except TaugepaError as exc:
        return [str(exc)]
    audit = audit_task(parsed, policy, world)
    if audit.status != CLEAN:
        return [f"{f.rule} [{f.severity}]: {f.message}" for f in audit.findings if f.severity != "info"]
    if not task["refusal"] and audit.free_pass:
        return ["a task that is not a refusal must write something or require an output"]
    return []


def dumps(tasks: list[dict[str, Any]]) -> str:
    """The task file's exact text (stable: the same tasks always give the same bytes)."""
    return json.dumps(tasks, indent=1, ensure_ascii=False) + "\n"
