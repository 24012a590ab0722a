"""Change scenarios: move flight dates, change the cabin (with or without extra bags), replace or
correct a passenger, and the changes the policy forbids outright.

They share one shape: draw a reservation that can still be modified, work out the fare
difference and who pays it, then update it; the forbidden ones end with the reservation read
and left as it is.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from taugepa.generate import phrasing as say
from taugepa.generate.base import Draft, Generator
from taugepa.world.facts import (
    EXTRA_BAG_PRICE,
    EngineState,
    itinerary_problems,
    paid_bags_after_adding,
    segment_status,
)

if TYPE_CHECKING:
    from tau2.domains.airline.data_model import Flight


def _flight(state: EngineState, flight_number: str) -> Flight:
    """A flight the generator already knows exists (a reservation's, or one just checked)."""
    flight = state.flight(flight_number)
    if flight is None:
        raise KeyError(f"flight {flight_number} is not in the database")
    return flight


def change_dates(g: Generator) -> Draft | None:
    rng = g.rng
    pool = g.candidates(
        "changeable", lambda r: r.cabin != "basic_economy" and g.pools.bookable(r.reservation_id)
    )
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    # one way: move the whole trip; round trip: move the return legs
    turn = next((i for i, s in enumerate(r.flights) if s.destination == r.destination), None)
    if turn is None:
        return None
    moving = (
        list(range(len(r.flights))) if r.flight_type == "one_way" else list(range(turn + 1, len(r.flights)))
    )
    if not moving:
        return None
    shift = rng.choice((-3, -2, -1, 1, 2, 3))
    new = []
    for i, s in enumerate(r.flights):
        when = date.fromisoformat(s.date) + timedelta(days=shift if i in moving else 0)
        new.append({"flight_number": s.flight_number, "date": when.isoformat()})
    engine = g.engine()
    state = EngineState(engine)
    for i in moving:
        status = segment_status(state, new[i]["flight_number"], new[i]["date"])
        flight = state.flight(new[i]["flight_number"])
        if status != "available" or flight is None:
            return None
        if flight.dates[new[i]["date"]].available_seats[r.cabin] < len(r.passengers):
            return None
    kept = [(s.flight_number, s.date) for s in r.flights]
    if itinerary_problems(state, new, r.origin, r.destination, r.flight_type, kept=kept):
        return None
    new_price = sum(
        _flight(state, new[i]["flight_number"]).dates[new[i]["date"]].prices[r.cabin]
        if i in moving
        else s.price
        for i, s in enumerate(r.flights)
    )
    difference = (new_price - sum(s.price for s in r.flights)) * len(r.passengers)
    method = g.pay_for_change(user, difference)
    if method is None:
        return None
    draft = g.start("change_dates", r.user_id, (rid,))
    if draft is None:
        return None
    which = "whole trip" if r.flight_type == "one_way" else "return flights"
    new_day = new[moving[0]]["date"]
    direction = "later" if shift > 0 else "earlier"
    days = f"{abs(shift)} day{'s' if abs(shift) > 1 else ''} {direction}"
    leaves = "it leaves" if r.flight_type == "one_way" else "they leave"
    where = g.reservation_phrase(draft, rid, locate=rng.random() < 0.3)
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
    return g.finish(draft)


def cabin_change(g: Generator, with_bags: bool = False) -> Draft | None:
    rng = g.rng
    rid = rng.choice(g.candidates("bookable", lambda r: g.pools.bookable(r.reservation_id)))
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    order = ("basic_economy", "economy", "business")
    higher = [c for c in order if order.index(c) > order.index(r.cabin)]
    cabin = (
        rng.choice(higher if with_bags else [c for c in order if c != r.cabin])
        if (higher or not with_bags)
        else None
    )
    if cabin is None:
        return None
    engine = g.engine()
    state = EngineState(engine)
    prices = []
    for s in r.flights:
        data = _flight(state, s.flight_number).dates[s.date]
        if data.available_seats[cabin] < len(r.passengers):
            return None
        prices.append(data.prices[cabin])
    difference = (sum(prices) - sum(s.price for s in r.flights)) * len(r.passengers)
    method = g.pay_for_change(user, difference)
    if method is None:
        return None
    draft = g.start("cabin_and_bags" if with_bags else "cabin_change", r.user_id, (rid,))
    if draft is None:
        return None
    verb = "upgrade" if order.index(cabin) > order.index(r.cabin) else "downgrade"
    flights = [{"flight_number": s.flight_number, "date": s.date} for s in r.flights]
    draft.sentences += [
        f"You want to {verb} {g.reservation_phrase(draft, rid, locate=rng.random() < 0.3)} to "
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
        free = g.free_bags(user, cabin)
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
    return g.finish(draft)


def update_passenger(g: Generator) -> Draft | None:
    rng = g.rng
    rid = rng.choice(g.candidates("bookable", lambda r: g.pools.bookable(r.reservation_id)))
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    profile = {f"{user.name.first_name} {user.name.last_name}".lower()}
    profile |= {f"{p.first_name} {p.last_name}".lower() for p in user.saved_passengers}
    others = [i for i, p in enumerate(r.passengers) if f"{p.first_name} {p.last_name}".lower() not in profile]
    index = rng.choice(others or range(len(r.passengers)))
    old = r.passengers[index]
    draft = g.start("update_passenger", r.user_id, (rid, index))
    if draft is None:
        return None
    people = [p.model_dump() for p in r.passengers]
    where = g.reservation_phrase(draft, rid, locate=rng.random() < 0.3)
    if others and rng.random() < 0.4:  # a date of birth the profile does not contradict
        born = date.fromisoformat(old.dob) + timedelta(days=rng.choice((-400, -31, -1, 1, 30, 365)))
        people[index] = {**people[index], "dob": born.isoformat()}
        draft.sentences.append(
            f"The date of birth of {old.first_name} {old.last_name} on {where} is wrong: it should be "
            f"{say.birth_date(rng, born.isoformat())}. You want it corrected."
        )
    else:
        person = g.new_person(g.known_names(user))
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
    return g.finish(draft)


def change_refused(g: Generator) -> Draft | None:
    """Requests the policy forbids outright: basic-economy flight change, fewer bags, adding insurance,
    fewer passengers, another destination."""
    rng = g.rng
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
    pool = g.candidates(f"refuse-{kind}", lambda r: g.pools.bookable(r.reservation_id) and tests[kind](r))
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    draft = g.start("change_refused", r.user_id, (rid, kind))
    if draft is None:
        return None
    draft.refusal = True
    draft.reasoning += 2
    where = g.reservation_phrase(draft, rid)
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
    return g.finish(draft)
