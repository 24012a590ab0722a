"""The task generator's core, shared by every scenario family: `Draft`, `Pools` and `Generator`.

A scenario builder is a function of a `Generator` that returns a `Draft`, or None when the
case it drew does not fit (the generator then draws again). The builders live by family in
`booking`, `changes`, `bags`, `cancellation` and `compensation`; everything they share is
here: the seeded random stream (every draw, in every module, comes from `Generator.rng`),
the database pools, `start`/`finish`, and the helpers for free bags, payment methods and
plans, passengers, dates, itineraries and the words that name a reservation.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from taugepa.generate import phrasing as say
from taugepa.world.engine import AirlineWorld, get_world, write_tool_names
from taugepa.world.facts import EngineState, segment_status
from taugepa.world.policy import Policy

FIRST_DAY, LAST_DAY = date(2024, 5, 16), date(2024, 5, 30)  # the bookable dates


@dataclass
class Draft:
    """A task under construction."""

    scenario: str
    user_id: str
    key: tuple[Any, ...]
    sentences: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    refusal: bool = False
    reasoning: int = 0  # reasoning steps beyond carrying out the request

    def act(self, name: str, **kwargs: Any) -> None:
        self.actions.append({"name": name, "kwargs": kwargs})

    @property
    def writes(self) -> int:
        return sum(1 for a in self.actions if a["name"] in write_tool_names())

    @property
    def difficulty(self) -> str:
        points = self.writes + self.reasoning
        return "easy" if points <= 1 else "medium" if points == 2 else "hard"

    def to_task(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "instruction": " ".join(s.strip() for s in self.sentences if s.strip()),
            "actions": self.actions,
            "outputs": self.outputs,
            "difficulty": self.difficulty,
            "scenario": self.scenario,
            "refusal": self.refusal,
        }


class Pools:
    """The database's users, reservations and flights, sorted, with the facts scenarios select on."""

    def __init__(self, world: AirlineWorld):
        self.world = world
        self.db = world.base_db
        self.state = EngineState(world.new_engine())
        self.users = sorted(self.db.users)
        self.reservations = sorted(self.db.reservations)
        self.flights = sorted(self.db.flights)

    def user(self, user_id: str) -> Any:
        return self.db.users[user_id]

    def reservation(self, rid: str) -> Any:
        return self.db.reservations[rid]

    def bookable(self, rid: str) -> bool:
        """Every segment still available (not flown, not today, not cancelled)."""
        r = self.reservation(rid)
        return r.status is None and all(
            segment_status(self.state, s.flight_number, s.date) == "available" for s in r.flights
        )

    def where(self, test: Callable[[Any], bool]) -> list[str]:
        return [rid for rid in self.reservations if test(self.reservation(rid))]


class Generator:
    """One seeded random stream, the database pools and the helpers every scenario builder draws with."""

    def __init__(self, seed: int, policy: Policy, world: AirlineWorld | None = None):
        self.seed = seed
        self.rng = random.Random(seed)
        self.policy = policy
        self.world = world or get_world()
        self.pools = Pools(self.world)
        self.seen: set[tuple[Any, ...]] = set()
        self.rejected: Counter[str] = Counter()
        self._candidates: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ helpers

    def candidates(self, name: str, test: Callable[[Any], bool]) -> list[str]:
        if name not in self._candidates:
            self._candidates[name] = self.pools.where(test)
        return self._candidates[name]

    def engine(self) -> Any:
        return self.world.new_engine()

    def start(self, scenario: str, user_id: str, key: tuple[Any, ...]) -> Draft | None:
        full_key = (scenario, *key)
        if full_key in self.seen:
            return None
        user = self.pools.user(user_id)
        draft = Draft(scenario=scenario, user_id=user_id, key=full_key)
        name = f"{user.name.first_name} {user.name.last_name}"
        draft.sentences.append(say.opening(self.rng, user_id, name))
        return draft

    def finish(self, draft: Draft) -> Draft:
        draft.sentences.append(say.persona(self.rng))
        return draft

    def free_bags(self, user: Any, cabin: str) -> int:
        return self.policy.free_bags_per_passenger(user.membership, cabin)

    def methods(self, user: Any, source: str) -> list[Any]:
        return [
            user.payment_methods[k]
            for k in sorted(user.payment_methods)
            if user.payment_methods[k].source == source
        ]

    def describable(self, user: Any, method: Any) -> bool:
        """A gift card or certificate can be named by its balance only if no other has the same."""
        if method.source == "credit_card":
            return True
        same = [m for m in self.methods(user, method.source) if round(m.amount) == round(method.amount)]
        return len(same) == 1

    def pay_for_change(self, user: Any, amount: int) -> Any | None:
        """A credit card or gift card that can pay `amount` (any, for a refund), or None."""
        options = [m for m in self.methods(user, "credit_card")]
        options += [
            m
            for m in self.methods(user, "gift_card")
            if (amount <= 0 or m.amount >= amount) and self.describable(user, m)
        ]
        return self.rng.choice(options) if options else None

    def reservation_phrase(self, draft: Draft, rid: str, locate: bool = False) -> str:
        """Name a reservation by id, or (locate=True) by a description that picks it out."""
        r = self.pools.reservation(rid)
        if locate:
            user = self.pools.user(r.user_id)
            first = r.flights[0].date
            twins = [
                other
                for other in user.reservations
                if other != rid
                and self.pools.reservation(other).origin == r.origin
                and self.pools.reservation(other).destination == r.destination
            ]
            if not twins:
                draft.reasoning += 1
                trip = "round trip" if r.flight_type == "round_trip" else "one-way trip"
                return (
                    f"your {trip} from {say.place(self.rng, r.origin)} to "
                    f"{say.place(self.rng, r.destination)} "
                    f"that starts on {say.day(self.rng, first)} (you do not remember the reservation id)"
                )
        return self.rng.choice(
            (f"reservation {rid}", f"your reservation {rid}", f"the reservation with id {rid}")
        )

    # ------------------------------------------------------------------ flights

    def dates(self, first: date = FIRST_DAY, last: date = LAST_DAY) -> list[str]:
        days = (last - first).days
        return [(first + timedelta(days=k)).isoformat() for k in range(days + 1)]

    def itineraries(self, engine: Any, origin: str, destination: str, day: str) -> list[list[Any]]:
        """Direct and one-stop itineraries the airline's own search tools offer."""
        direct = [
            [f]
            for f in engine.execute(
                "search_direct_flight", {"origin": origin, "destination": destination, "date": day}
            )
        ]
        onestop = [
            list(pair)
            for pair in engine.execute(
                "search_onestop_flight", {"origin": origin, "destination": destination, "date": day}
            )
        ]
        return direct + onestop

    @staticmethod
    def legs_of(itinerary: list[Any], day: str) -> list[tuple[str, str]]:
        return [(f.flight_number, f.date or day) for f in itinerary]

    @staticmethod
    def seats_ok(itinerary: list[Any], cabin: str, passengers: int) -> bool:
        return all(f.available_seats[cabin] >= passengers for f in itinerary)

    @staticmethod
    def price(itinerary: list[Any], cabin: str) -> int:
        return sum(f.prices[cabin] for f in itinerary)

    def choose(
        self,
        engine: Any,
        origin: str,
        destination: str,
        day: str,
        cabin: str,
        passengers: int,
        cheapest: bool,
    ) -> list[Any] | None:
        """An itinerary with seats for `passengers` in `cabin`: with `cheapest`, the day's cheapest direct
        flight (None on a tie); otherwise any direct or one-stop itinerary, drawn at random."""
        options = [i for i in self.itineraries(engine, origin, destination, day)]
        if cheapest:
            direct = [i for i in options if len(i) == 1]
            if not direct:
                return None
            ranked = sorted(direct, key=lambda i: self.price(i, cabin))
            if len(ranked) > 1 and self.price(ranked[0], cabin) == self.price(ranked[1], cabin):
                return None  # no single cheapest flight
            best = ranked[0]
            return best if self.seats_ok(best, cabin, passengers) else None
        usable = [i for i in options if self.seats_ok(i, cabin, passengers)]
        return self.rng.choice(usable) if usable else None

    # ------------------------------------------------------------------ people

    def new_person(self, exclude: set[str]) -> dict[str, str]:
        """A passenger who is not in the user's profile: a name from the database, a random birth date."""
        while True:
            a = self.pools.user(self.rng.choice(self.pools.users)).name
            b = self.pools.user(self.rng.choice(self.pools.users)).name
            first, last = a.first_name, b.last_name
            if f"{first} {last}".lower() in exclude:
                continue
            born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 55))
            return {"first_name": first, "last_name": last, "dob": born.isoformat()}

    def known_names(self, user: Any) -> set[str]:
        names = {f"{user.name.first_name} {user.name.last_name}".lower()}
        names |= {f"{p.first_name} {p.last_name}".lower() for p in user.saved_passengers}
        for rid in user.reservations:
            names |= {f"{p.first_name} {p.last_name}".lower() for p in self.pools.reservation(rid).passengers}
        return names

    def passengers_for(self, user: Any, count: int) -> tuple[list[dict[str, str]], list[str]]:
        """`count` passengers (the user first, then saved passengers, then new people) and how to say them."""
        people = [{"first_name": user.name.first_name, "last_name": user.name.last_name, "dob": user.dob}]
        phrases = [self.rng.choice(("yourself", "you"))]
        saved = list(user.saved_passengers)
        self.rng.shuffle(saved)
        for passenger in saved[: count - 1]:
            people.append(passenger.model_dump())
            phrases.append(
                self.rng.choice(
                    (
                        f"{passenger.first_name} {passenger.last_name} (saved in your profile)",
                        f"your saved passenger {passenger.first_name} {passenger.last_name}",
                    )
                )
            )
        exclude = self.known_names(user)
        while len(people) < count:
            person = self.new_person(
                exclude | {f"{p['first_name']} {p['last_name']}".lower() for p in people}
            )
            people.append(person)
            phrases.append(
                f"{person['first_name']} {person['last_name']} (born "
                f"{say.birth_date(self.rng, person['dob'])})"
            )
        return people, phrases

    # ------------------------------------------------------------------ payment

    def payment_plan(self, draft: Draft, user: Any, total: int) -> tuple[list[dict[str, Any]], str] | None:
        """Payment methods for a booking of `total` dollars and the sentence that asks for them."""
        cards = self.methods(user, "credit_card")
        gifts = [m for m in self.methods(user, "gift_card") if self.describable(user, m) and m.amount >= 1]
        certs = [m for m in self.methods(user, "certificate") if self.describable(user, m)]
        options: list[str] = []
        if cards:
            options.append("card")
        if [g for g in gifts if g.amount >= total]:
            options.append("gift")
        if cards and certs:
            options.append("certificate+card")
        if cards and [g for g in gifts if g.amount < total]:
            options.append("gift+card")
        if not options:
            return None
        choice = self.rng.choice(options)
        if choice == "card":
            card = self.rng.choice(cards)
            return [
                {"payment_id": card.id, "amount": total}
            ], f"You will pay with {say.card(self.rng, card)}."
        if choice == "gift":
            gift = self.rng.choice([g for g in gifts if g.amount >= total])
            return [
                {"payment_id": gift.id, "amount": total}
            ], f"You want to pay with {say.gift_card(self.rng, gift)}."
        card = self.rng.choice(cards)
        first = (
            self.rng.choice(certs)
            if choice == "certificate+card"
            else self.rng.choice([g for g in gifts if g.amount < total])
        )
        used = min(int(first.amount), total)
        draft.reasoning += 1
        plan = [{"payment_id": first.id, "amount": used}]
        if total > used:
            plan.append({"payment_id": card.id, "amount": total - used})
        sentence = self.rng.choice(
            (
                f"Use {say.payment_method(self.rng, first)} as far as it goes and put the rest on "
                f"{say.card(self.rng, card)}.",
                f"You want to use {say.payment_method(self.rng, first)} first, and pay whatever remains with "
                f"{say.card(self.rng, card)}.",
            )
        )
        return plan, sentence
