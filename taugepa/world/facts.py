"""Facts about the airline world that the policy rules and the task generator both need.

Pure functions over a read-only view of an episode's database (`AirlineState`), so that the
same facts decide what the audit flags and what the generator's gold actions do: whether a
trip has been flown, whether a booking is less than 24 hours old, which checked bags are
free, whether an itinerary connects. The clock is tau2's own (`AirlineTools._get_datetime`,
read through the tool catalog).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from taugepa.world.engine import Engine
from taugepa.world.tau2_airline import tool_catalog

if TYPE_CHECKING:
    from tau2.domains.airline.data_model import Flight, Reservation, User

# The airline world's "now": 2024-05-15 15:00 EST (the time tau2's tools stamp bookings with).
NOW = datetime.fromisoformat(tool_catalog().now)
TODAY = NOW.date().isoformat()

FLOWN_STATUSES = frozenset({"landed", "flying"})  # taken off: that segment is used
CABINS = ("basic_economy", "economy", "business")
MEMBERSHIPS = ("regular", "silver", "gold")
EXTRA_BAG_PRICE = 50
INSURANCE_PRICE = 30
MAX_PASSENGERS = 5


class AirlineState(Protocol):
    """Read-only access to the airline database as it stands at some point of an episode."""

    def user(self, user_id: str) -> User | None: ...

    def reservation(self, reservation_id: str) -> Reservation | None: ...

    def flight(self, flight_number: str) -> Flight | None: ...


class EngineState:
    """An `AirlineState` over an engine: sees the episode's own changes, copies nothing."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def user(self, user_id: str) -> User | None:
        return self.engine.peek("users", user_id) if isinstance(user_id, str) else None

    def reservation(self, reservation_id: str) -> Reservation | None:
        return self.engine.peek("reservations", reservation_id) if isinstance(reservation_id, str) else None

    def flight(self, flight_number: str) -> Flight | None:
        return self.engine.peek("flights", flight_number) if isinstance(flight_number, str) else None


def segment_status(state: AirlineState, flight_number: str, date: str) -> str | None:
    """The status of a flight on a date ('available', 'landed', ...), None if unknown."""
    flight = state.flight(flight_number)
    if flight is None or date not in flight.dates:
        return None
    return flight.dates[date].status


def segments_with_status(state: AirlineState, reservation: Reservation, statuses: Iterable[str]) -> list[Any]:
    wanted = set(statuses)
    return [
        segment
        for segment in reservation.flights
        if segment_status(state, segment.flight_number, segment.date) in wanted
    ]


def flown_segments(state: AirlineState, reservation: Reservation) -> list[Any]:
    """Segments that have taken off (landed or in the air)."""
    return segments_with_status(state, reservation, FLOWN_STATUSES)


def booked_within_24h(reservation: Reservation, now: datetime = NOW) -> bool:
    """Whether the booking was made within the 24 hours before `now`."""
    try:
        created = datetime.fromisoformat(reservation.created_at)
    except (TypeError, ValueError):
        return False
    return now - timedelta(hours=24) <= created <= now


def segment_key(segment: Any) -> tuple[str, str]:
    """(flight number, date) of a reservation segment, a FlightInfo or a plain dict."""
    if isinstance(segment, dict):
        return str(segment.get("flight_number")), str(segment.get("date"))
    return segment.flight_number, segment.date


@dataclass(frozen=True)
class Leg:
    """One flight of an itinerary, with the schedule the flight table gives it."""

    flight_number: str
    date: str
    origin: str
    destination: str
    departs: datetime
    arrives: datetime


def resolve_legs(state: AirlineState, segments: Sequence[Any]) -> tuple[list[Leg], list[str]]:
    """The legs of an itinerary given as (flight number, date) segments, and any unknown ones."""
    legs, unknown = [], []
    for segment in segments:
        number, date = segment_key(segment)
        flight = state.flight(number)
        if flight is None or date not in flight.dates:
            unknown.append(f"{number} on {date}")
            continue
        day = datetime.fromisoformat(date)
        departs = day + _clock(flight.scheduled_departure_time_est)
        arrival = flight.scheduled_arrival_time_est
        arrives = day + _clock(arrival.split("+")[0]) + timedelta(days=1 if "+1" in arrival else 0)
        legs.append(Leg(number, date, flight.origin, flight.destination, departs, arrives))
    return legs, unknown


def _clock(text: str) -> timedelta:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def itinerary_problems(
    state: AirlineState,
    segments: Sequence[Any],
    origin: str,
    destination: str,
    flight_type: str,
    kept: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """Why an itinerary is not a trip from `origin` to `destination` of `flight_type` (empty if it is).

    Each problem is (kind, text) with kind `unknown` (no such flight or date), `connect` (legs
    that do not chain), `order` (legs that chain only once sorted by time; the endpoints are
    then judged in time order) or `endpoints` (the chain starts or ends in the wrong place).

    The legs must chain (each departs from where the previous one landed, after it landed),
    start at the origin, and end at the destination (one way) or back at the origin after
    reaching the destination (round trip). Timing is not held against two legs that are both
    in `kept` (segments an existing reservation already had): 24 of tau2's own round trips
    return before their outbound flight lands, and keeping them is not the task's fault.
    """
    kept = set(kept)
    if not segments:
        return [("unknown", "the itinerary has no flights")]
    legs, unknown = resolve_legs(state, segments)
    if unknown:
        return [("unknown", f"unknown flight(s): {', '.join(unknown)}")]
    problems = _chain_problems(legs, kept)
    if problems:
        in_time = sorted(legs, key=lambda leg: leg.departs)
        if in_time != legs and not _chain_problems(in_time, kept):
            problems = [
                (
                    "order",
                    "the flights are listed out of chronological order ("
                    + ", ".join(f"{leg.flight_number} on {leg.date}" for leg in legs)
                    + "); in time order they connect",
                )
            ]
            legs = in_time
    if legs[0].origin != origin:
        problems.append(
            ("endpoints", f"the trip starts in {origin} but the first flight leaves {legs[0].origin}")
        )
    if flight_type == "round_trip":
        if legs[-1].destination != origin:
            problems.append(
                ("endpoints", f"a round trip ends back in {origin}, not in {legs[-1].destination}")
            )
        if not any(leg.destination == destination for leg in legs[:-1]):
            problems.append(("endpoints", f"the round trip never reaches {destination}"))
    elif legs[-1].destination != destination:
        problems.append(
            (
                "endpoints",
                f"the trip ends in {destination} but the last flight lands in {legs[-1].destination}",
            )
        )
    return problems


def _chain_problems(legs: Sequence[Leg], kept: set[tuple[str, str]]) -> list[tuple[str, str]]:
    problems = []
    for before, after in zip(legs, legs[1:], strict=False):
        if before.destination != after.origin:
            problems.append(
                (
                    "connect",
                    f"{before.flight_number} lands in {before.destination} but {after.flight_number} "
                    f"departs from {after.origin}",
                )
            )
        elif (
            after.departs < before.arrives
            and not {
                (before.flight_number, before.date),
                (after.flight_number, after.date),
            }
            <= kept
        ):
            problems.append(
                (
                    "connect",
                    f"{after.flight_number} ({after.date} {after.departs:%H:%M}) departs before "
                    f"{before.flight_number} lands ({before.arrives:%Y-%m-%d %H:%M})",
                )
            )
    return problems


def expected_nonfree_bags(total_bags: int, passengers: int, free_per_passenger: int) -> int:
    """Bags beyond the free allowance of all passengers: the ones the user pays for."""
    return max(0, total_bags - free_per_passenger * passengers)


def paid_bags_after_adding(reservation: Reservation, new_total: int, free_per_passenger: int) -> int:
    """The non-free bag count after raising a reservation's bags to `new_total`.

    Only the added bags that exceed the free allowance left are paid for; bags already on
    the reservation keep their status.
    """
    free_total = free_per_passenger * len(reservation.passengers)
    added = max(0, new_total - reservation.total_baggages)
    free_left = max(0, free_total - reservation.total_baggages)
    return reservation.nonfree_baggages + max(0, added - free_left)


def payment_sources(user: User, payment_ids: Iterable[str]) -> list[str]:
    """The kind of each payment id ('credit_card', 'gift_card', 'certificate', or 'unknown')."""
    kinds = []
    for payment_id in payment_ids:
        method = user.payment_methods.get(payment_id)
        kinds.append(method.source if method is not None else "unknown")
    return kinds
