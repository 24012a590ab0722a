"""Cancellation scenarios: cancel on grounds the policy accepts, cancel and rebook, and the
cancellations it refuses (no grounds, or part of the trip already flown).

They share `cancellable_by` (the grounds, insurance aside, on which the policy allows a
cancellation) and the reasons a user gives, which decide whether insurance covers it.
"""

from __future__ import annotations

from typing import Any

from taugepa.generate import phrasing as say
from taugepa.generate.base import Draft, Generator
from taugepa.world.facts import booked_within_24h, flown_segments, segment_status, segments_with_status

# What the user says, by the grounds on which the policy allows the cancellation
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
# Reasons travel insurance does not cover (for cancellations the policy refuses)
UNCOVERED = (
    "your plans changed",
    "you found a cheaper flight elsewhere",
    "you no longer need to travel",
    "you would rather drive",
)


def cancellable_by(g: Generator, r: Any) -> str | None:
    """Why the policy lets this reservation be cancelled (None if it does not, insurance aside)."""
    state = g.pools.state
    if r.status is not None or flown_segments(state, r):
        return None
    if booked_within_24h(r):
        return "24h"
    if segments_with_status(state, r, {"cancelled"}):
        return "airline"
    if r.cabin == "business":
        return "business"
    return None


def cancel(g: Generator) -> Draft | None:
    rng = g.rng
    grounds = rng.choice(("24h", "airline", "business", "business", "insured", "insured"))
    if grounds == "insured":
        pool = g.candidates(
            "insured",
            lambda r: (
                cancellable_by(g, r) is None
                and r.status is None
                and not flown_segments(g.pools.state, r)
                and r.insurance == "yes"
            ),
        )
    else:
        pool = g.candidates(f"cancel-{grounds}", lambda r: cancellable_by(g, r) == grounds)
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    draft = g.start("cancel", r.user_id, (rid,))
    if draft is None:
        return None
    reason = rng.choice(REASONS[grounds])
    if grounds in ("insured", "airline"):
        draft.reasoning += 1
    draft.sentences.append(
        f"You want to cancel {g.reservation_phrase(draft, rid, locate=rng.random() < 0.3)} because {reason}."
    )
    draft.act("get_reservation_details", reservation_id=rid)
    draft.act("cancel_reservation", reservation_id=rid)
    return g.finish(draft)


def cancel_refused(g: Generator) -> Draft | None:
    rng = g.rng
    kind = rng.choice(("no_insurance", "no_insurance", "uncovered"))
    pool = g.candidates(
        f"refuse-{kind}",
        lambda r: (
            cancellable_by(g, r) is None
            and r.status is None
            and not flown_segments(g.pools.state, r)
            and r.insurance == ("no" if kind == "no_insurance" else "yes")
        ),
    )
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    draft = g.start("cancel_refused", r.user_id, (rid,))
    if draft is None:
        return None
    draft.refusal = True
    draft.reasoning += 2
    reason = rng.choice(UNCOVERED)
    draft.sentences += [
        f"You want to cancel {g.reservation_phrase(draft, rid)} and get a refund because {reason}.",
        rng.choice(
            (
                "If the agent says it cannot be cancelled, you accept that and keep the reservation.",
                "If the agent explains that the reservation cannot be cancelled, you leave it as it is.",
            )
        ),
    ]
    draft.act("get_reservation_details", reservation_id=rid)
    return g.finish(draft)


def cancel_flown(g: Generator) -> Draft | None:
    rng = g.rng
    state = g.pools.state
    pool = g.candidates(
        "partly-flown",
        lambda r: (
            r.status is None
            and bool(flown_segments(state, r))
            and any(segment_status(state, s.flight_number, s.date) == "available" for s in r.flights)
        ),
    )
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    draft = g.start("cancel_flown", r.user_id, (rid,))
    if draft is None:
        return None
    draft.refusal = True
    draft.reasoning += 2
    draft.sentences += [
        f"You already flew the first part of {g.reservation_phrase(draft, rid)}, and now you want "
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
    return g.finish(draft)


def cancel_and_rebook(g: Generator) -> Draft | None:
    rng = g.rng
    grounds = rng.choice(("24h", "business", "airline"))
    rid = rng.choice(g.candidates(f"cancel-{grounds}", lambda r: cancellable_by(g, r) == grounds))
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    if len(user.reservations) >= 10:
        return None
    engine = g.engine()
    day = rng.choice(g.dates())
    cabin = r.cabin
    passengers = len(r.passengers)
    itinerary = g.choose(engine, r.origin, r.destination, day, cabin, passengers, cheapest=True)
    if itinerary is None:
        return None
    draft = g.start("cancel_and_rebook", r.user_id, (rid,))
    if draft is None:
        return None
    draft.reasoning += 2  # cancellation grounds, cheapest flight
    people = [p.model_dump() for p in r.passengers]
    total = g.price(itinerary, cabin) * passengers
    plan = g.payment_plan(draft, user, total)
    if plan is None:
        return None
    payments, pay_sentence = plan
    reason = rng.choice(REASONS[grounds])
    legs = g.legs_of(itinerary, day)
    draft.sentences += [
        f"You want to cancel {g.reservation_phrase(draft, rid)} because {reason}.",
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
    return g.finish(draft)
