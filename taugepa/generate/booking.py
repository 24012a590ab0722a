"""Booking scenarios: a new one-way or round trip, on named flights or on the cheapest direct ones.

Kept apart from the changes to existing reservations because a booking draws a whole trip
(route, dates, cabin, passengers, bags, insurance, payment) rather than one reservation.
"""

from __future__ import annotations

from datetime import timedelta

from taugepa.generate import phrasing as say
from taugepa.generate.base import LAST_DAY, Draft, Generator
from taugepa.world.facts import (
    EXTRA_BAG_PRICE,
    INSURANCE_PRICE,
    EngineState,
    expected_nonfree_bags,
    itinerary_problems,
)


def book(g: Generator, trip: str, cheapest: bool) -> Draft | None:
    rng, engine = g.rng, g.engine()
    user_id = rng.choice(g.pools.users)
    user = g.pools.user(user_id)
    if len(user.reservations) >= 10:
        return None
    codes = sorted(say.CITIES)
    origin, destination = rng.sample(codes, 2)
    days = g.dates(last=LAST_DAY - timedelta(days=2 if trip == "round_trip" else 0))
    out_day = rng.choice(days)
    passengers = rng.choice((1, 1, 1, 2, 2, 3))
    cabin = rng.choice(("basic_economy", "economy", "economy", "business"))
    outbound = g.choose(engine, origin, destination, out_day, cabin, passengers, cheapest)
    if outbound is None:
        return None
    legs = g.legs_of(outbound, out_day)
    flights = list(outbound)
    back_day = None
    if trip == "round_trip":
        back_day = rng.choice([d for d in g.dates() if d > out_day][:6] or [out_day])
        inbound = g.choose(engine, destination, origin, back_day, cabin, passengers, cheapest)
        if inbound is None:
            return None
        legs += g.legs_of(inbound, back_day)
        flights += inbound
    problems = itinerary_problems(
        EngineState(engine), [{"flight_number": n, "date": d} for n, d in legs], origin, destination, trip
    )
    if problems:
        return None
    scenario = "book_cheapest" if cheapest else f"book_{trip}"
    draft = g.start(scenario, user_id, (origin, destination, out_day, back_day, cabin))
    if draft is None:
        return None
    people, phrases = g.passengers_for(user, passengers)
    free = g.free_bags(user, cabin)
    total_bags = rng.choice((0, 0, 1, 1, 2, 3, free * passengers + 1))
    nonfree = expected_nonfree_bags(total_bags, passengers, free)
    if total_bags:
        draft.reasoning += 1  # the agent works out which bags are free
    insured = rng.random() < 0.4
    total = (
        g.price(flights, cabin) * passengers
        + (INSURANCE_PRICE * passengers if insured else 0)
        + EXTRA_BAG_PRICE * nonfree
    )
    plan = g.payment_plan(draft, user, total)
    if plan is None:
        return None
    payments, pay_sentence = plan
    trip_words = (
        "a round trip" if trip == "round_trip" else rng.choice(("a one-way trip", "a one-way flight"))
    )
    route = f"from {say.place(rng, origin)} to {say.place(rng, destination)}"
    if cheapest:
        draft.reasoning += 1
        when = f"leaving on {say.day(rng, out_day)}" + (
            f" and coming back on {say.day(rng, back_day)}" if back_day else ""
        )
        which = (
            f"For each direction you want the cheapest direct {say.cabin(cabin)} flight that day."
            if back_day
            else f"You want the cheapest direct {say.cabin(cabin)} flight that day."
        )
        draft.sentences += [f"You want to book {trip_words} {route}, {when}.", which]
    else:
        draft.sentences += [
            f"You want to book {trip_words} {route} in {say.cabin(cabin)}.",
            f"The flights you want are {say.flights_list(rng, legs)}.",
        ]
    draft.sentences.append(
        "The passengers are " + say.join(phrases) + "."
        if passengers > 1
        else rng.choice(("You are the only passenger.", "You are travelling alone."))
    )
    if rng.random() < 0.5:
        draft.sentences.append("Your date of birth is in your profile.")
    draft.sentences += [say.bags(rng, total_bags), say.insurance(rng, insured), pay_sentence]
    draft.act("get_user_details", user_id=user_id)
    draft.act(
        "book_reservation",
        user_id=user_id,
        origin=origin,
        destination=destination,
        flight_type=trip,
        cabin=cabin,
        flights=[{"flight_number": n, "date": d} for n, d in legs],
        passengers=people,
        payment_methods=payments,
        total_baggages=total_bags,
        nonfree_baggages=nonfree,
        insurance="yes" if insured else "no",
    )
    return g.finish(draft)
