"""Scenario builders for the task generator: one method per kind of task.

Each builder picks real users, reservations and flights with the generator's seeded random
stream, computes the gold actions from the facts the audit's policy rules use (free bags,
cancellation grounds, flown segments, compensation amounts, itineraries from the airline's
own search tools), and writes the instruction. A builder returns None when the case it
drew does not fit (the generator then draws again).
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
from taugepa.world.facts import (
    EXTRA_BAG_PRICE,
    EngineState,
    booked_within_24h,
    flown_segments,
    itinerary_problems,
    paid_bags_after_adding,
    segment_status,
    segments_with_status,
)
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
    """Builds tasks scenario by scenario from one seeded random stream."""

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

    # ------------------------------------------------------------------ scenarios: changes

    def change_dates(self) -> Draft | None:
        rng = self.rng
        pool = self.candidates(
            "changeable", lambda r: r.cabin != "basic_economy" and self.pools.bookable(r.reservation_id)
        )
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        # one way: move the whole trip; round trip: move the return legs
        turn = next((i for i, s in enumerate(r.flights) if s.destination == r.destination), None)
        if turn is None:
            return None
        moving = (
            list(range(len(r.flights)))
            if r.flight_type == "one_way"
            else list(range(turn + 1, len(r.flights)))
        )
        if not moving:
            return None
        shift = rng.choice((-3, -2, -1, 1, 2, 3))
        new = []
        for i, s in enumerate(r.flights):
            when = date.fromisoformat(s.date) + timedelta(days=shift if i in moving else 0)
            new.append({"flight_number": s.flight_number, "date": when.isoformat()})
        engine = self.engine()
        state = EngineState(engine)
        for i in moving:
            status = segment_status(state, new[i]["flight_number"], new[i]["date"])
            flight = state.flight(new[i]["flight_number"])
            if status != "available" or flight.dates[new[i]["date"]].available_seats[r.cabin] < len(
                r.passengers
            ):
                return None
        kept = [(s.flight_number, s.date) for s in r.flights]
        if itinerary_problems(state, new, r.origin, r.destination, r.flight_type, kept=kept):
            return None
        new_price = sum(
            state.flight(new[i]["flight_number"]).dates[new[i]["date"]].prices[r.cabin]
            if i in moving
            else s.price
            for i, s in enumerate(r.flights)
        )
        difference = (new_price - sum(s.price for s in r.flights)) * len(r.passengers)
        method = self.pay_for_change(user, difference)
        if method is None:
            return None
        draft = self.start("change_dates", r.user_id, (rid,))
        if draft is None:
            return None
        which = "whole trip" if r.flight_type == "one_way" else "return flights"
        new_day = new[moving[0]]["date"]
        direction = "later" if shift > 0 else "earlier"
        days = f"{abs(shift)} day{'s' if abs(shift) > 1 else ''} {direction}"
        leaves = "it leaves" if r.flight_type == "one_way" else "they leave"
        where = self.reservation_phrase(draft, rid, locate=rng.random() < 0.3)
        draft.sentences += [
            f"You want to move the {which} of {where} "
            f"{days}, so that {leaves} on {say.day(rng, new_day)}, keeping the same flight numbers and the "
            "same cabin.",
            f"Any fare difference should be charged to, or refunded to, {say.payment_method(rng, method)}.",
        ]
        if difference and rng.random() < 0.4:
            draft.outputs.append(str(abs(difference)))
            draft.reasoning += 1
            draft.sentences.append(
                "You want to know how much you will pay or get back for the change, in dollars."
            )
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act(
            "update_reservation_flights", reservation_id=rid, cabin=r.cabin, flights=new, payment_id=method.id
        )
        return self.finish(draft)

    def cabin_change(self, with_bags: bool = False) -> Draft | None:
        rng = self.rng
        rid = rng.choice(self.candidates("bookable", lambda r: self.pools.bookable(r.reservation_id)))
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        order = ("basic_economy", "economy", "business")
        higher = [c for c in order if order.index(c) > order.index(r.cabin)]
        cabin = (
            rng.choice(higher if with_bags else [c for c in order if c != r.cabin])
            if (higher or not with_bags)
            else None
        )
        if cabin is None:
            return None
        engine = self.engine()
        state = EngineState(engine)
        prices = []
        for s in r.flights:
            data = state.flight(s.flight_number).dates[s.date]
            if data.available_seats[cabin] < len(r.passengers):
                return None
            prices.append(data.prices[cabin])
        difference = (sum(prices) - sum(s.price for s in r.flights)) * len(r.passengers)
        method = self.pay_for_change(user, difference)
        if method is None:
            return None
        draft = self.start("cabin_and_bags" if with_bags else "cabin_change", r.user_id, (rid,))
        if draft is None:
            return None
        verb = "upgrade" if order.index(cabin) > order.index(r.cabin) else "downgrade"
        flights = [{"flight_number": s.flight_number, "date": s.date} for s in r.flights]
        draft.sentences += [
            f"You want to {verb} {self.reservation_phrase(draft, rid, locate=rng.random() < 0.3)} to "
            f"{say.cabin(cabin)} for all passengers and all flights, without changing the flights.",
            f"Use {say.payment_method(rng, method)} for any payment or refund.",
        ]
        if r.cabin == "basic_economy":
            draft.reasoning += 1  # the agent must know a basic economy cabin can change
        if rng.random() < 0.4 and difference:
            draft.outputs.append(str(abs(difference)))
            draft.reasoning += 1
            draft.sentences.append(
                f"You want to know the total {'cost' if difference > 0 else 'refund'} of the cabin change "
                "in dollars."
            )
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act(
            "update_reservation_flights",
            reservation_id=rid,
            cabin=cabin,
            flights=flights,
            payment_id=method.id,
        )
        if with_bags:
            added = rng.choice((1, 2, 3))
            free = self.free_bags(user, cabin)
            after = r.model_copy(update={"cabin": cabin})
            nonfree = paid_bags_after_adding(after, r.total_baggages + added, free)
            fee = EXTRA_BAG_PRICE * (nonfree - r.nonfree_baggages)
            gift_balance = method.amount - max(difference, 0) if method.source == "gift_card" else None
            if gift_balance is not None and gift_balance < fee:
                return None
            draft.reasoning += 1  # the allowance of the new cabin decides which bags are free
            draft.sentences.append(
                f"After the cabin change you also want to add {added} checked bag{'s' if added > 1 else ''} "
                f"to the reservation, paid the same way."
            )
            draft.act(
                "update_reservation_baggages",
                reservation_id=rid,
                total_baggages=r.total_baggages + added,
                nonfree_baggages=nonfree,
                payment_id=method.id,
            )
        return self.finish(draft)

    def add_bags(self) -> Draft | None:
        rng = self.rng
        rid = rng.choice(self.candidates("bookable", lambda r: self.pools.bookable(r.reservation_id)))
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        added = rng.choice((1, 1, 2, 2, 3, 4))
        free = self.free_bags(user, r.cabin)
        nonfree = paid_bags_after_adding(r, r.total_baggages + added, free)
        fee = EXTRA_BAG_PRICE * (nonfree - r.nonfree_baggages)
        method = self.pay_for_change(user, fee)
        if method is None:
            return None
        draft = self.start("add_bags", r.user_id, (rid,))
        if draft is None:
            return None
        draft.reasoning += 1  # which of the new bags are free
        draft.sentences += [
            f"You want to add {added} checked bag{'s' if added > 1 else ''} to "
            f"{self.reservation_phrase(draft, rid, locate=rng.random() < 0.3)}.",
            f"If there is a fee, pay it with {say.payment_method(rng, method)}.",
        ]
        if fee and rng.random() < 0.4:  # a required "0" would match almost any answer
            draft.outputs.append(str(fee))
            draft.sentences.append("You want to know how much the extra bags cost in total, in dollars.")
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act(
            "update_reservation_baggages",
            reservation_id=rid,
            total_baggages=r.total_baggages + added,
            nonfree_baggages=nonfree,
            payment_id=method.id,
        )
        return self.finish(draft)

    def update_passenger(self) -> Draft | None:
        rng = self.rng
        rid = rng.choice(self.candidates("bookable", lambda r: self.pools.bookable(r.reservation_id)))
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        profile = {f"{user.name.first_name} {user.name.last_name}".lower()}
        profile |= {f"{p.first_name} {p.last_name}".lower() for p in user.saved_passengers}
        others = [
            i for i, p in enumerate(r.passengers) if f"{p.first_name} {p.last_name}".lower() not in profile
        ]
        index = rng.choice(others or range(len(r.passengers)))
        old = r.passengers[index]
        draft = self.start("update_passenger", r.user_id, (rid, index))
        if draft is None:
            return None
        people = [p.model_dump() for p in r.passengers]
        where = self.reservation_phrase(draft, rid, locate=rng.random() < 0.3)
        if others and rng.random() < 0.4:  # a date of birth the profile does not contradict
            born = date.fromisoformat(old.dob) + timedelta(days=rng.choice((-400, -31, -1, 1, 30, 365)))
            people[index] = {**people[index], "dob": born.isoformat()}
            draft.sentences.append(
                f"The date of birth of {old.first_name} {old.last_name} on {where} is wrong: it should be "
                f"{say.birth_date(rng, born.isoformat())}. You want it corrected."
            )
        else:
            person = self.new_person(self.known_names(user))
            people[index] = person
            is_user = (old.first_name, old.last_name) == (user.name.first_name, user.name.last_name)
            who = (
                "you can no longer travel"
                if is_user
                else f"{old.first_name} {old.last_name} can no longer travel"
            )
            draft.sentences.append(
                f"On {where}, {who}; you want {person['first_name']} {person['last_name']} "
                f"(born {say.birth_date(rng, person['dob'])}) to fly in {'your' if is_user else 'their'} "
                "place."
            )
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act("update_reservation_passengers", reservation_id=rid, passengers=people)
        return self.finish(draft)

    # ------------------------------------------------------------------ scenarios: cancellations

    def cancellable_by(self, r: Any) -> str | None:
        """Why the policy lets this reservation be cancelled (None if it does not, insurance aside)."""
        state = self.pools.state
        if r.status is not None or flown_segments(state, r):
            return None
        if booked_within_24h(r):
            return "24h"
        if segments_with_status(state, r, {"cancelled"}):
            return "airline"
        if r.cabin == "business":
            return "business"
        return None

    REASONS = {
        "24h": ("you booked it by mistake yesterday", "your plans changed since you booked it yesterday"),
        "airline": ("the airline cancelled one of its flights",),
        "business": ("your plans changed", "you no longer need to travel"),
        "insured": (
            "you are sick and your doctor told you not to fly",
            "a snowstorm is forecast at your destination",
            "you had a medical emergency in the family and you are unwell yourself",
            "severe weather is expected on the day you travel",
        ),
    }
    UNCOVERED = (
        "your plans changed",
        "you found a cheaper flight elsewhere",
        "you no longer need to travel",
        "you would rather drive",
    )

    def cancel(self) -> Draft | None:
        rng = self.rng
        grounds = rng.choice(("24h", "airline", "business", "business", "insured", "insured"))
        if grounds == "insured":
            pool = self.candidates(
                "insured",
                lambda r: (
                    self.cancellable_by(r) is None
                    and r.status is None
                    and not flown_segments(self.pools.state, r)
                    and r.insurance == "yes"
                ),
            )
        else:
            pool = self.candidates(f"cancel-{grounds}", lambda r, g=grounds: self.cancellable_by(r) == g)
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        draft = self.start("cancel", r.user_id, (rid,))
        if draft is None:
            return None
        reason = rng.choice(self.REASONS[grounds])
        if grounds in ("insured", "airline"):
            draft.reasoning += 1
        draft.sentences.append(
            f"You want to cancel {self.reservation_phrase(draft, rid, locate=rng.random() < 0.3)} because "
            f"{reason}."
        )
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act("cancel_reservation", reservation_id=rid)
        return self.finish(draft)

    def cancel_refused(self) -> Draft | None:
        rng = self.rng
        kind = rng.choice(("no_insurance", "no_insurance", "uncovered"))
        pool = self.candidates(
            f"refuse-{kind}",
            lambda r, k=kind: (
                self.cancellable_by(r) is None
                and r.status is None
                and not flown_segments(self.pools.state, r)
                and r.insurance == ("no" if k == "no_insurance" else "yes")
            ),
        )
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        draft = self.start("cancel_refused", r.user_id, (rid,))
        if draft is None:
            return None
        draft.refusal = True
        draft.reasoning += 2
        reason = rng.choice(self.UNCOVERED)
        draft.sentences += [
            f"You want to cancel {self.reservation_phrase(draft, rid)} and get a refund because {reason}.",
            rng.choice(
                (
                    "If the agent says it cannot be cancelled, you accept that and keep the reservation.",
                    "If the agent explains that the reservation cannot be cancelled, you leave it as it is.",
                )
            ),
        ]
        draft.act("get_reservation_details", reservation_id=rid)
        return self.finish(draft)

    def cancel_flown(self) -> Draft | None:
        rng = self.rng
        state = self.pools.state
        pool = self.candidates(
            "partly-flown",
            lambda r: (
                r.status is None
                and bool(flown_segments(state, r))
                and any(segment_status(state, s.flight_number, s.date) == "available" for s in r.flights)
            ),
        )
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        draft = self.start("cancel_flown", r.user_id, (rid,))
        if draft is None:
            return None
        draft.refusal = True
        draft.reasoning += 2
        draft.sentences += [
            f"You already flew the first part of {self.reservation_phrase(draft, rid)}, and now you want "
            "to cancel "
            "the rest of the trip.",
            "If the agent cannot do it, you accept being transferred to a human agent.",
        ]
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act(
            "transfer_to_human_agents",
            summary=(
                f"User {r.user_id} wants to cancel reservation {rid}, part of which has already been flown."
            ),
        )
        # No required output: the policy's transfer message comes after the transfer, which ends the
        # episode (tau-bench's rule), so no agent could ever be heard saying it.
        return self.finish(draft)

    def cancel_and_rebook(self) -> Draft | None:
        rng = self.rng
        grounds = rng.choice(("24h", "business", "airline"))
        rid = rng.choice(
            self.candidates(f"cancel-{grounds}", lambda r, g=grounds: self.cancellable_by(r) == g)
        )
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        if len(user.reservations) >= 10:
            return None
        engine = self.engine()
        day = rng.choice(self.dates())
        cabin = r.cabin
        passengers = len(r.passengers)
        itinerary = self.choose(engine, r.origin, r.destination, day, cabin, passengers, cheapest=True)
        if itinerary is None:
            return None
        draft = self.start("cancel_and_rebook", r.user_id, (rid,))
        if draft is None:
            return None
        draft.reasoning += 2  # cancellation grounds, cheapest flight
        people = [p.model_dump() for p in r.passengers]
        total = self.price(itinerary, cabin) * passengers
        plan = self.payment_plan(draft, user, total)
        if plan is None:
            return None
        payments, pay_sentence = plan
        reason = rng.choice(self.REASONS[grounds])
        legs = self.legs_of(itinerary, day)
        draft.sentences += [
            f"You want to cancel {self.reservation_phrase(draft, rid)} because {reason}.",
            f"Then you want a new one-way booking from {say.place(rng, r.origin)} to "
            f"{say.place(rng, r.destination)} "
            f"on {say.day(rng, day)}: the cheapest direct {say.cabin(cabin)} flight that day, for the same "
            "passengers as the cancelled reservation, with no checked bags and no travel insurance.",
            pay_sentence,
        ]
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act("cancel_reservation", reservation_id=rid)
        draft.act(
            "book_reservation",
            user_id=r.user_id,
            origin=r.origin,
            destination=r.destination,
            flight_type="one_way",
            cabin=cabin,
            flights=[{"flight_number": n, "date": d} for n, d in legs],
            passengers=people,
            payment_methods=payments,
            total_baggages=0,
            nonfree_baggages=0,
            insurance="no",
        )
        return self.finish(draft)

    # ------------------------------------------------------------------ scenarios: other refusals

    def change_refused(self) -> Draft | None:
        """Requests the policy forbids outright: basic-economy flight change, fewer bags, adding insurance,
        fewer passengers, another destination."""
        rng = self.rng
        kind = rng.choice(
            (
                "basic_economy",
                "basic_economy",
                "remove_bag",
                "add_insurance",
                "remove_passenger",
                "destination",
            )
        )
        tests = {
            "basic_economy": lambda r: r.cabin == "basic_economy",
            "remove_bag": lambda r: r.total_baggages >= 1,
            "add_insurance": lambda r: r.insurance == "no",
            "remove_passenger": lambda r: len(r.passengers) >= 2,
            "destination": lambda r: r.cabin != "basic_economy" and r.flight_type == "one_way",
        }
        pool = self.candidates(
            f"refuse-{kind}", lambda r, k=kind: self.pools.bookable(r.reservation_id) and tests[k](r)
        )
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        draft = self.start("change_refused", r.user_id, (rid, kind))
        if draft is None:
            return None
        draft.refusal = True
        draft.reasoning += 2
        where = self.reservation_phrase(draft, rid)
        if kind == "basic_economy":
            day = date.fromisoformat(r.flights[0].date) + timedelta(days=rng.choice((1, 2)))
            draft.sentences += [
                f"You want to change the date of {where}: move it to {say.day(rng, day.isoformat())}, on the "
                "same flight numbers.",
                "If the agent says this is not possible, you do not want to pay for a different cabin: you "
                "keep "
                "the reservation as it is.",
            ]
        elif kind == "remove_bag":
            draft.sentences += [
                f"You packed lighter than planned and want to remove one checked bag from {where}, with a "
                "refund "
                "for it.",
                "If the agent says bags cannot be removed, you accept and keep the reservation as it is.",
            ]
        elif kind == "add_insurance":
            draft.sentences += [
                f"You want to add travel insurance to {where}; you forgot it when booking.",
                "If the agent says insurance cannot be added now, you accept that.",
            ]
        elif kind == "remove_passenger":
            p = r.passengers[-1]
            draft.sentences += [
                f"{p.first_name} {p.last_name} will not travel, so you want to remove them from {where}.",
                "If the agent says the number of passengers cannot change, you keep the reservation as it "
                "is and "
                "do not want anything else changed.",
            ]
        else:
            other = rng.choice([c for c in sorted(say.CITIES) if c not in (r.origin, r.destination)])
            draft.sentences += [
                f"You want to change the destination of {where}: instead of {say.place(rng, r.destination)}, "
                f"you want to fly to {say.place(rng, other)} on the same day.",
                "If the agent says the destination cannot be changed, you keep the reservation as it is.",
            ]
        draft.act("get_reservation_details", reservation_id=rid)
        return self.finish(draft)

    # ------------------------------------------------------------------ scenarios: compensation and questions

    def disrupted(self, r: Any) -> str | None:
        state = self.pools.state
        if segments_with_status(state, r, {"cancelled"}):
            return "cancelled"
        return None

    def compensation(self) -> Draft | None:
        rng = self.rng
        eligible = rng.random() < 0.6
        pool = self.candidates(
            f"compensation-{eligible}",
            lambda r, e=eligible: (
                self.disrupted(r) is not None
                and r.status is None
                and (
                    self.pools.user(r.user_id).membership != "regular"
                    or r.insurance == "yes"
                    or r.cabin == "business"
                )
                == e
            ),
        )
        rid = rng.choice(pool)
        r = self.pools.reservation(rid)
        segment = segments_with_status(self.pools.state, r, {"cancelled"})[0]
        draft = self.start("compensation" if eligible else "compensation_refused", r.user_id, (rid,))
        if draft is None:
            return None
        draft.reasoning += 2  # confirm the facts, eligibility and amount
        draft.sentences += [
            f"Your flight {segment.flight_number} on {say.day(rng, segment.date)} "
            f"({self.reservation_phrase(draft, rid)}) "
            "was cancelled by the airline, and you are unhappy about it.",
            rng.choice(
                (
                    "You want compensation for the cancellation.",
                    "You explicitly ask the agent for some compensation.",
                    "You ask whether the airline can compensate you.",
                )
            ),
        ]
        draft.act("get_reservation_details", reservation_id=rid)
        if eligible:
            amount = 100 * len(r.passengers)
            draft.sentences.append("You will accept a travel certificate.")
            draft.act("get_user_details", user_id=r.user_id)
            draft.act("send_certificate", user_id=r.user_id, amount=amount)
        else:
            draft.refusal = True
            draft.sentences.append("If the agent says you are not eligible, you accept that.")
        return self.finish(draft)

    def bag_question(self) -> Draft | None:
        rng = self.rng
        rid = rng.choice(self.candidates("bookable", lambda r: self.pools.bookable(r.reservation_id)))
        r = self.pools.reservation(rid)
        user = self.pools.user(r.user_id)
        draft = self.start("bag_question", r.user_id, (rid,))
        if draft is None:
            return None
        draft.reasoning += 1
        free = self.free_bags(user, r.cabin) * len(r.passengers)
        if free == 0:
            return None  # "0" as a required output would match almost any answer
        draft.sentences.append(
            f"You want to know how many checked bags {self.reservation_phrase(draft, rid)} includes for "
            "free, in total "
            "for all its passengers. You only want the number and do not want to change anything."
        )
        draft.outputs.append(str(free))
        draft.act("get_reservation_details", reservation_id=rid)
        draft.act("get_user_details", user_id=r.user_id)
        return self.finish(draft)
