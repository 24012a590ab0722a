"""Change rules: what a write may do to an existing reservation's flights and cabin.

A flight change keeps the trip (`change.route`), never in basic economy
(`change.basic_economy`), never drops a flown segment (`change.flown_segment`), and under
tau2's policy no cabin changes once a flight has flown (`cabin.flown`). The itinerary checks a
booking shares with a change live here too (`itinerary.connect`, `booking.route`), as do the
checks on which reservation may be changed at all: not a cancelled one
(`change.cancelled_reservation`), not another user's (`reservation.owner`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from taugepa.rules.common import cabin_name, kwargs_of
from taugepa.rules.registry import DEFECT, DEFINITE, POSSIBLE, Hit, RuleContext, action_rule
from taugepa.tasks.model import Action
from taugepa.world.facts import (
    AirlineState,
    flown_segments,
    itinerary_problems,
    resolve_legs,
    segment_key,
    segment_status,
)

# Policy sentences, verbatim: tau2's policy.md first, then tau-bench v1's wiki.md where different.
Q_BASIC_ECONOMY = ("Basic economy flights cannot be modified.",)
Q_ROUTE = ("Other reservations can be modified without changing the origin, destination, and trip type.",)
Q_CABIN_FLOWN = ("Cabin cannot be changed if any flight in the reservation has already been flown.",)


def _segments(items: Iterable[Any]) -> list[str]:
    return [f"{number} on {day}" for number, day in (segment_key(s) for s in items)]


def _owner_hits(state: AirlineState, reservation_id: str, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(reservation_id)
    if reservation is None or context.user_id is None or reservation.user_id == context.user_id:
        return
    yield Hit(
        DEFECT,
        f"reservation {reservation_id} belongs to {reservation.user_id}, not to the user in this "
        f"conversation ({context.user_id})",
    )


def _flight_change(
    state: AirlineState, action: Action
) -> tuple[Any, list[tuple[str, str]], list[tuple[str, str]]]:
    kwargs = kwargs_of(action)
    reservation = state.reservation(kwargs["reservation_id"])
    old = [segment_key(s) for s in reservation.flights] if reservation is not None else []
    new = [segment_key(s) for s in kwargs["flights"]]
    return reservation, old, new


@action_rule(
    "change.basic_economy",
    "Basic economy flights cannot be changed (the cabin can)",
    ("update_reservation_flights",),
    (DEFINITE, POSSIBLE),
    Q_BASIC_ECONOMY,
)
def _change_basic_economy(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation, old, new = _flight_change(state, action)
    if reservation is None or reservation.cabin != "basic_economy" or set(old) == set(new):
        return
    cabin = kwargs_of(action)["cabin"]
    rid = reservation.reservation_id
    if cabin == "basic_economy":
        yield Hit(DEFINITE, f"changes the flights of basic economy reservation {rid}")
    else:
        yield Hit(
            POSSIBLE,
            f"changes the flights of basic economy reservation {rid} in the same call that moves it to "
            f"{cabin_name(cabin)}: allowed only as an agreed cabin upgrade followed by a flight change",
        )


@action_rule(
    "change.route",
    "A flight change keeps the origin, destination and trip type",
    ("update_reservation_flights",),
    (DEFINITE, POSSIBLE),
    Q_ROUTE,
)
def _change_route(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation, old, new = _flight_change(state, action)
    if reservation is None or set(old) == set(new):
        return
    problems = itinerary_problems(
        state,
        kwargs_of(action)["flights"],
        reservation.origin,
        reservation.destination,
        reservation.flight_type,
        kept=old,
    )
    endpoint = [text for kind, text in problems if kind == "endpoints"]
    if not endpoint:
        return
    trip = f"{reservation.origin}-{reservation.destination} {reservation.flight_type.replace('_', ' ')}"
    message = f"new flights for {reservation.reservation_id} ({trip}): " + "; ".join(endpoint)
    if any(kind == "connect" for kind, _ in problems):
        yield Hit(POSSIBLE, message + " (the new legs do not connect either)")
    elif any(kind == "order" for kind, _ in problems):
        yield Hit(
            POSSIBLE, message + " (judged in time order: the legs are listed out of chronological order)"
        )
    elif any(
        segment_status(state, *key) in ("landed", "flying", "cancelled") for key in old if key not in new
    ):
        yield Hit(
            POSSIBLE,
            message
            + " (it drops segments that have flown or were cancelled: the trip itself may be unchanged)",
        )
    elif _same_cities(state, reservation, kwargs_of(action)["flights"]):
        yield Hit(
            POSSIBLE,
            message + " (another airport of the same city: the policy does not say whether the origin and "
            "destination are airports or cities, and tau2's own task 29 swaps LGA for JFK)",
        )
    else:
        yield Hit(DEFINITE, message)


# Airports that serve the same city: a change between them may not count as a new destination.
SAME_CITY = ({"JFK", "LGA", "EWR"},)


def _city(code: str) -> frozenset[str]:
    return next((frozenset(group) for group in SAME_CITY if code in group), frozenset({code}))


def _same_cities(state: AirlineState, reservation: Any, flights: Any) -> bool:
    """Whether the new itinerary visits the reservation's cities, perhaps through other airports."""
    legs, unknown = resolve_legs(state, flights)
    if unknown or not legs:
        return False
    start, end = _city(legs[0].origin), _city(legs[-1].destination)
    if reservation.flight_type == "round_trip":
        turn = any(_city(leg.destination) == _city(reservation.destination) for leg in legs[:-1])
        return start == _city(reservation.origin) and end == _city(reservation.origin) and turn
    return start == _city(reservation.origin) and end == _city(reservation.destination)


@action_rule(
    "itinerary.connect",
    "The flights of a booking or change connect: each leaves from where the last landed, after it landed",
    ("update_reservation_flights", "book_reservation"),
    (DEFECT,),
)
def _itinerary_connect(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = kwargs_of(action)
    if action.name == "book_reservation":
        problems = itinerary_problems(
            state, kwargs["flights"], kwargs["origin"], kwargs["destination"], kwargs["flight_type"]
        )
        where = f"booking {kwargs['origin']}-{kwargs['destination']}"
    else:
        reservation, old, new = _flight_change(state, action)
        if reservation is None or set(old) == set(new):
            return
        problems = itinerary_problems(
            state,
            kwargs["flights"],
            reservation.origin,
            reservation.destination,
            reservation.flight_type,
            kept=old,
        )
        where = f"new flights for {reservation.reservation_id}"
    broken = [text for kind, text in problems if kind in ("connect", "order", "unknown")]
    if broken:
        yield Hit(DEFECT, f"{where}: " + "; ".join(broken))


@action_rule(
    "booking.route",
    "A booking's flights go from its origin to its destination as its trip type says",
    ("book_reservation",),
    (DEFECT,),
)
def _booking_route(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = kwargs_of(action)
    problems = itinerary_problems(
        state, kwargs["flights"], kwargs["origin"], kwargs["destination"], kwargs["flight_type"]
    )
    endpoint = [text for kind, text in problems if kind == "endpoints"]
    if endpoint:
        yield Hit(
            DEFECT,
            f"booking {kwargs['origin']}-{kwargs['destination']} ({kwargs['flight_type']}): "
            + "; ".join(endpoint),
        )


@action_rule(
    "change.flown_segment",
    "A flight change cannot drop or replace a segment that has already been flown",
    ("update_reservation_flights",),
    (DEFECT,),
)
def _change_flown_segment(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation, old, new = _flight_change(state, action)
    if reservation is None:
        return
    dropped = [key for key in old if key not in set(new)]
    flown = [key for key in dropped if segment_status(state, *key) in ("landed", "flying")]
    if flown:
        yield Hit(
            DEFECT,
            f"changes {reservation.reservation_id} by dropping flown segment(s) "
            + ", ".join(f"{n} on {d}" for n, d in flown),
        )


@action_rule(
    "cabin.flown",
    "No cabin change once any flight of the reservation has been flown (tau2's policy)",
    ("update_reservation_flights",),
    (DEFINITE,),
    Q_CABIN_FLOWN,
)
def _cabin_flown(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    if not context.policy.cabin_change_after_flown_forbidden:
        return  # tau-bench v1's wiki has no such rule
    reservation, _, _ = _flight_change(state, action)
    cabin = kwargs_of(action)["cabin"]
    if reservation is None or cabin == reservation.cabin:
        return
    flown = flown_segments(state, reservation)
    if flown:
        yield Hit(
            DEFINITE,
            f"changes the cabin of {reservation.reservation_id} from {cabin_name(reservation.cabin)} to "
            f"{cabin_name(cabin)} after {', '.join(_segments(flown))} took off",
        )


@action_rule(
    "change.cancelled_reservation",
    "Changing a reservation that is cancelled",
    ("update_reservation_flights", "update_reservation_baggages", "update_reservation_passengers"),
    (DEFECT,),
)
def _change_cancelled(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(kwargs_of(action)["reservation_id"])
    if reservation is not None and reservation.status == "cancelled":
        yield Hit(DEFECT, f"{action.name} on {reservation.reservation_id}, which is cancelled")


@action_rule(
    "reservation.owner",
    "The gold acts on a reservation of the user it talks to",
    (
        "cancel_reservation",
        "update_reservation_flights",
        "update_reservation_baggages",
        "update_reservation_passengers",
    ),
    (DEFECT,),
)
def _reservation_owner(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    yield from _owner_hits(state, kwargs_of(action)["reservation_id"], context)
