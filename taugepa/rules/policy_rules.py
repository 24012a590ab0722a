"""The airline policy as code: one rule per policy sentence, checked against a write action.

`check_action(state, action, context)` looks at the database as it stands *before* a write
action and says which policy rules the action would break. It runs on any sequence of writes
against an evolving engine database: the audit replays a task's gold actions through it, the
generator checks its own gold with it, and an episode can check an agent's writes with it.

Each finding has a severity:
- `definite`: the policy clearly forbids it (conservative: a definite finding must be right);
- `possible`: it depends on something only the conversation can tell (the reason for an
  insurance cancellation, whether a basic-economy change came with an agreed upgrade, ...);
- `defect`: not a policy rule, but the task is broken (an itinerary that does not connect,
  a gold that acts on another user's reservation, ...);
- `info`: worth knowing, nothing wrong.

Every rule carries the policy sentence(s) it comes from, verbatim from tau2's `policy.md` and
from tau-bench v1's `wiki.md` where they differ; a finding quotes the one the policy in force
contains (`Policy.quote`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from taugepa.rules.registry import (
    DEFECT,
    DEFINITE,
    INFO,
    POSSIBLE,
    RULES,
    RULES_VERSION,
    SEVERITIES,
    Finding,
    Hit,
    Rule,
    RuleContext,
    action_rule,
    policy_sentences,
    register,
    task_rule,
)
from taugepa.tasks.model import Action
from taugepa.world.engine import write_tool_names
from taugepa.world.facts import (
    EXTRA_BAG_PRICE,
    MAX_PASSENGERS,
    AirlineState,
    EngineState,
    booked_within_24h,
    expected_nonfree_bags,
    flown_segments,
    itinerary_problems,
    paid_bags_after_adding,
    payment_sources,
    resolve_legs,
    segment_key,
    segment_status,
    segments_with_status,
)

__all__ = [
    "DEFECT",
    "DEFINITE",
    "INFO",
    "POSSIBLE",
    "RULES",
    "RULES_VERSION",
    "SEVERITIES",
    "Finding",
    "Hit",
    "Rule",
    "RuleContext",
    "action_rule",
    "check_action",
    "check_sequence",
    "policy_sentences",
    "register",
    "rules_table",
    "task_rule",
]


# Words that state a reason travel insurance covers ("health or weather reasons").
COVERED_REASON = re.compile(
    r"\b(sick|sickness|ill|illness|unwell|not feeling well|health|medical|hospital\w*|injur\w*|surgery|"
    r"doctor|fever|flu|covid|weather|storm\w*|hurricane|snow\w*|blizzard|tornado|flood\w*|typhoon)\b",
    re.IGNORECASE,
)
ASKS_COMPENSATION = re.compile(
    r"compensat\w*|voucher|certificate|refund|reimburs\w*|gesture|make (it )?up|credit", re.IGNORECASE
)
RESERVATION_ID = re.compile(r"\b[A-Z0-9]{6}\b")


def check_action(state: AirlineState, action: Action, context: RuleContext) -> list[Finding]:
    """The findings for one write action, given the database just before it runs.

    Arguments the engine would reject are not judged here (the engine's own error says what
    is wrong): a rule that cannot read them finds nothing.
    """
    findings = []
    for rule in RULES.values():
        if rule.kind != "action" or action.name not in rule.applies_to or rule.check is None:
            continue
        try:
            hits = list(rule.check(state, action, context))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue
        findings.extend(rule.finding(hit, context.policy, context.index, action.name) for hit in hits)
    return findings


def check_sequence(
    engine: Any, actions: Sequence[Action], context: RuleContext
) -> tuple[list[Finding], tuple[int, Exception] | None]:
    """Check each write of `actions` against the engine's database as it evolves.

    Runs every action through `engine.execute` after checking it, and stops at the first one
    the engine rejects: returns the findings so far and (index, error) of that action, if any.
    """
    from taugepa.world.engine import ToolCallError

    state, writes, findings = EngineState(engine), write_tool_names(), []
    for index, action in enumerate(actions):
        if action.name in writes:
            findings.extend(check_action(state, action, _at(context, actions, index)))
        try:
            engine.execute(action.name, action.kwargs)
        except ToolCallError as exc:
            return findings, (index, exc)
    return findings, None


def _at(context: RuleContext, actions: Sequence[Action], index: int) -> RuleContext:
    return RuleContext(
        policy=context.policy,
        user_id=context.user_id,
        instruction=context.instruction,
        actions=actions,
        index=index,
    )


# ---------------------------------------------------------------------------------------------
# Policy sentences, verbatim. tau2's policy.md first, then tau-bench v1's wiki.md where different.

Q_CANCEL_FLOWN = (
    "If any portion of the flight has already been flown, the agent cannot help and transfer is needed.",
    "The agent can only cancel the whole trip that is not flown. If any of the segments are already used, "
    "the agent cannot help and transfer is needed.",
)
Q_CANCEL_GROUNDS = (
    "Otherwise, flight can be cancelled if any of the following is true:\n"
    "- The booking was made within the last 24 hrs\n"
    "- The flight is cancelled by airline\n"
    "- It is a business flight\n"
    "- The user has travel insurance and the reason for cancellation is covered by insurance.",
    "All reservations can be cancelled within 24 hours of booking, or if the airline cancelled the flight. "
    "Otherwise, basic economy or economy flights can be cancelled only if travel insurance is bought and the "
    "condition is met, and business flights can always be cancelled. The rules are strict regardless of the "
    "membership status.",
)
Q_INSURANCE_REASON = (
    "The travel insurance is 30 dollars per passenger and enables full refund if the user needs to cancel "
    "the flight given health or weather reasons.",
    "Travel insurance: the agent should ask if the user wants to buy the travel insurance, which is 30 "
    "dollars "
    "per passenger and enables full refund if the user needs to cancel the flight given health or weather "
    "reasons.",
)
Q_BASIC_ECONOMY = ("Basic economy flights cannot be modified.",)
Q_ROUTE = ("Other reservations can be modified without changing the origin, destination, and trip type.",)
Q_CABIN_FLOWN = ("Cabin cannot be changed if any flight in the reservation has already been flown.",)
Q_BAGS_ADD_ONLY = ("The user can add but not remove checked bags.",)
Q_PAYMENT_LIMITS = (
    "Each reservation can use at most one travel certificate, at most one credit card, and at most three "
    "gift "
    "cards.",
)
Q_MAX_PASSENGERS = ("Each reservation can have at most five passengers.",)
Q_PASSENGER_DETAILS = (
    "The agent needs to collect the first name, last name, and date of birth for each passenger.",
)
Q_COMPENSATION_WHO = (
    "Do not compensate if the user is regular member and has no travel insurance and flies (basic) economy.",
)
Q_COMPENSATION_CANCELLED = (
    "If the user complains about cancelled flights in a reservation, the agent can offer a certificate as a "
    "gesture after confirming the facts, with the amount being $100 times the number of passengers.",
    "If the user is silver/gold member or has travel insurance or flies business, and complains about "
    "cancelled "
    "flights in a reservation, the agent can offer a certificate as a gesture after confirming the facts, "
    "with "
    "the amount being $100 times the number of passengers.",
)
Q_COMPENSATION_DELAYED = (
    "If the user complains about delayed flights in a reservation and wants to change or cancel the "
    "reservation, the agent can offer a certificate as a gesture after confirming the facts and changing or "
    "cancelling the reservation, with the amount being $50 times the number of passengers.",
    "If the user is silver/gold member or has travel insurance or flies business, and complains about "
    "delayed "
    "flights in a reservation and wants to change or cancel the reservation, the agent can offer a "
    "certificate "
    "as a gesture after confirming the facts and changing or cancelling the reservation, with the amount "
    "being "
    "$50 times the number of passengers.",
)
Q_COMPENSATION_REASONS = (
    "Do not offer compensation for any other reason than the ones listed above.",
    *Q_COMPENSATION_CANCELLED,
)
Q_COMPENSATION_ASKED = (
    "Do not proactively offer a compensation unless the user explicitly asks for one.",
    "Do not proactively offer these unless the user complains about the situation and explicitly asks for "
    "some "
    "compensation.",
)
# ---------------------------------------------------------------------------------------------
# Helpers


def _kwargs(action: Action) -> dict[str, Any]:
    return action.kwargs if isinstance(action.kwargs, dict) else {}


def _segments(items: Iterable[Any]) -> list[str]:
    return [f"{number} on {day}" for number, day in (segment_key(s) for s in items)]


def _cabin_name(cabin: str) -> str:
    return cabin.replace("_", " ")


def _owner_hits(state: AirlineState, reservation_id: str, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(reservation_id)
    if reservation is None or context.user_id is None or reservation.user_id == context.user_id:
        return
    yield Hit(
        DEFECT,
        f"reservation {reservation_id} belongs to {reservation.user_id}, not to the user in this "
        f"conversation ({context.user_id})",
    )


def _passenger_problems(passengers: Any) -> tuple[list[str], list[str]]:
    """(missing details, malformed birth dates) of a passenger list."""
    missing, malformed = [], []
    for number, passenger in enumerate(passengers or [], start=1):
        if not isinstance(passenger, dict):
            passenger = passenger.model_dump() if hasattr(passenger, "model_dump") else {}
        name = f"{passenger.get('first_name') or '?'} {passenger.get('last_name') or '?'}"
        for key in ("first_name", "last_name", "dob"):
            if not str(passenger.get(key) or "").strip():
                missing.append(f"passenger {number} ({name}) has no {key.replace('_', ' ')}")
        dob = str(passenger.get("dob") or "").strip()
        if dob and not _is_iso_date(dob):
            malformed.append(f"passenger {number} ({name}) has birth date {dob!r}, not YYYY-MM-DD")
    return missing, malformed


def _is_iso_date(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _passenger_hits(passengers: Any) -> Iterable[Hit]:
    missing, malformed = _passenger_problems(passengers)
    for message in missing:
        yield Hit(DEFINITE, message)
    for message in malformed:
        yield Hit(DEFECT, message)


def referenced_reservations(context: RuleContext) -> set[str]:
    """Reservation ids the task's instruction or actions mention."""
    found = set(RESERVATION_ID.findall(context.instruction or ""))
    for action in context.actions:
        rid = _kwargs(action).get("reservation_id")
        if isinstance(rid, str):
            found.add(rid)
    return found


# ---------------------------------------------------------------------------------------------
# Cancellation


@action_rule(
    "cancel.flown",
    "No cancellation once any segment has been flown (transfer to a human agent instead)",
    ("cancel_reservation",),
    (DEFINITE,),
    Q_CANCEL_FLOWN,
)
def _cancel_flown(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(_kwargs(action)["reservation_id"])
    if reservation is None or reservation.status == "cancelled":
        return
    flown = flown_segments(state, reservation)
    if flown:
        described = ", ".join(
            f"{s.flight_number} on {s.date} ({segment_status(state, s.flight_number, s.date)})" for s in flown
        )
        yield Hit(DEFINITE, f"cancels {reservation.reservation_id}, but {described} has already taken off")


@action_rule(
    "cancel.eligibility",
    "Cancel only within 24 h of booking, after an airline cancellation, in business, or with insurance "
    "for a covered reason",
    ("cancel_reservation",),
    (DEFINITE, POSSIBLE),
    Q_CANCEL_GROUNDS,
)
def _cancel_eligibility(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(_kwargs(action)["reservation_id"])
    if reservation is None or reservation.status == "cancelled" or flown_segments(state, reservation):
        return  # cancel.flown or cancel.repeated says what is wrong
    if (
        booked_within_24h(reservation)
        or segments_with_status(state, reservation, {"cancelled"})
        or reservation.cabin == "business"
    ):
        return
    rid, cabin = reservation.reservation_id, _cabin_name(reservation.cabin)
    if reservation.insurance == "yes":
        if context.instruction is not None and COVERED_REASON.search(context.instruction):
            return
        yield Hit(
            POSSIBLE,
            f"cancels {rid} ({cabin}, booked {reservation.created_at}, no airline-cancelled flight): only "
            "its "
            "travel insurance can allow this, and only for health or weather reasons, which "
            + ("the instruction does not state" if context.instruction is not None else "must be confirmed"),
            quote=context.policy.quote(Q_INSURANCE_REASON),
        )
        return
    yield Hit(
        DEFINITE,
        f"cancels {rid}: {cabin}, booked {reservation.created_at} (more than 24 h ago), no flight cancelled "
        "by the airline, no travel insurance",
    )


@action_rule(
    "cancel.repeated",
    "Cancelling a reservation that is already cancelled",
    ("cancel_reservation",),
    (DEFECT,),
)
def _cancel_repeated(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(_kwargs(action)["reservation_id"])
    if reservation is not None and reservation.status == "cancelled":
        yield Hit(
            DEFECT, f"{reservation.reservation_id} is already cancelled: the engine refunds it a second time"
        )


# ---------------------------------------------------------------------------------------------
# Flight and cabin changes


def _flight_change(
    state: AirlineState, action: Action
) -> tuple[Any, list[tuple[str, str]], list[tuple[str, str]]]:
    kwargs = _kwargs(action)
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
    cabin = _kwargs(action)["cabin"]
    rid = reservation.reservation_id
    if cabin == "basic_economy":
        yield Hit(DEFINITE, f"changes the flights of basic economy reservation {rid}")
    else:
        yield Hit(
            POSSIBLE,
            f"changes the flights of basic economy reservation {rid} in the same call that moves it to "
            f"{_cabin_name(cabin)}: allowed only as an agreed cabin upgrade followed by a flight change",
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
        _kwargs(action)["flights"],
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
    elif _same_cities(state, reservation, _kwargs(action)["flights"]):
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
    kwargs = _kwargs(action)
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
    kwargs = _kwargs(action)
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
    cabin = _kwargs(action)["cabin"]
    if reservation is None or cabin == reservation.cabin:
        return
    flown = flown_segments(state, reservation)
    if flown:
        yield Hit(
            DEFINITE,
            f"changes the cabin of {reservation.reservation_id} from {_cabin_name(reservation.cabin)} to "
            f"{_cabin_name(cabin)} after {', '.join(_segments(flown))} took off",
        )


@action_rule(
    "change.cancelled_reservation",
    "Changing a reservation that is cancelled",
    ("update_reservation_flights", "update_reservation_baggages", "update_reservation_passengers"),
    (DEFECT,),
)
def _change_cancelled(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(_kwargs(action)["reservation_id"])
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
    yield from _owner_hits(state, _kwargs(action)["reservation_id"], context)


# ---------------------------------------------------------------------------------------------
# Checked bags


@action_rule(
    "bags.remove",
    "Checked bags can be added, not removed",
    ("update_reservation_baggages",),
    (DEFINITE,),
    Q_BAGS_ADD_ONLY,
)
def _bags_remove(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = _kwargs(action)
    reservation = state.reservation(kwargs["reservation_id"])
    if reservation is not None and int(kwargs["total_baggages"]) < reservation.total_baggages:
        yield Hit(
            DEFINITE,
            f"lowers the checked bags of {reservation.reservation_id} from {reservation.total_baggages} to "
            f"{kwargs['total_baggages']}",
        )


@action_rule(
    "bags.fee",
    "Free checked bags by membership and cabin; each extra bag is $50",
    ("update_reservation_baggages", "book_reservation"),
    (DEFINITE, POSSIBLE),
    ("Each extra baggage is 50 dollars.",),
)
def _bags_fee(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = _kwargs(action)
    total, nonfree = int(kwargs["total_baggages"]), int(kwargs["nonfree_baggages"])
    policy = context.policy
    if action.name == "book_reservation":
        user = state.user(kwargs["user_id"])
        if user is None:
            return
        passengers, cabin = len(kwargs["passengers"]), kwargs["cabin"]
        free = policy.free_bags_per_passenger(user.membership, cabin)
        expected = expected_nonfree_bags(total, passengers, free)
        if nonfree != expected:
            yield Hit(
                DEFINITE,
                _bag_message(user.membership, cabin, passengers, free, total, expected, nonfree, "books"),
                quote=policy.allowance_quote(user.membership),
            )
        return
    reservation = state.reservation(kwargs["reservation_id"])
    user = state.user(reservation.user_id) if reservation is not None else None
    if reservation is None or user is None or total < reservation.total_baggages:
        return  # bags.remove covers lowering the count
    passengers = len(reservation.passengers)
    free = policy.free_bags_per_passenger(user.membership, reservation.cabin)
    expected = paid_bags_after_adding(reservation, total, free)
    if nonfree == expected:
        return
    consistent_before = reservation.nonfree_baggages == expected_nonfree_bags(
        reservation.total_baggages, passengers, free
    )
    recount = expected_nonfree_bags(total, passengers, free)
    severity = POSSIBLE if not consistent_before and nonfree == recount else DEFINITE
    message = _bag_message(
        user.membership, reservation.cabin, passengers, free, total, expected, nonfree, "sets"
    )
    charged = EXTRA_BAG_PRICE * max(0, nonfree - reservation.nonfree_baggages)
    due = EXTRA_BAG_PRICE * max(0, expected - reservation.nonfree_baggages)
    message += (
        f" on {reservation.reservation_id} (had {reservation.total_baggages}, "
        f"{reservation.nonfree_baggages} non-free)"
    )
    message += f": charges ${charged} where ${due} is due"
    if severity == POSSIBLE:
        message += " (the reservation's bags did not match the allowance before the change)"
    yield Hit(severity, message, quote=policy.allowance_quote(user.membership))


def _bag_message(
    membership: str,
    cabin: str,
    passengers: int,
    free: int,
    total: int,
    expected: int,
    nonfree: int,
    verb: str,
) -> str:
    return (
        f"{verb} {total} checked bag(s) with {nonfree} non-free, but a {membership} member's "
        f"{passengers} {_cabin_name(cabin)} passenger(s) get {free * passengers} free, so {expected} "
        "should be non-free"
    )


# ---------------------------------------------------------------------------------------------
# Bookings: payment and passengers


@action_rule(
    "payment.limits",
    "At most one certificate, one credit card and three gift cards per reservation",
    ("book_reservation",),
    (DEFINITE,),
    Q_PAYMENT_LIMITS,
)
def _payment_limits(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = _kwargs(action)
    user = state.user(kwargs["user_id"])
    if user is None:
        return
    ids = [p["payment_id"] if isinstance(p, dict) else p.payment_id for p in kwargs["payment_methods"]]
    kinds = payment_sources(user, ids)
    for kind, limit, name in (
        ("certificate", 1, "certificates"),
        ("credit_card", 1, "credit cards"),
        ("gift_card", 3, "gift cards"),
    ):
        used = [pid for pid, k in zip(ids, kinds, strict=False) if k == kind]
        if len(used) > limit:
            yield Hit(
                DEFINITE,
                f"pays one booking with {len(used)} {name} ({', '.join(used)}); the limit is {limit}",
            )


@action_rule(
    "passengers.limit",
    "At most five passengers per reservation",
    ("book_reservation",),
    (DEFINITE,),
    Q_MAX_PASSENGERS,
)
def _passengers_limit(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    count = len(_kwargs(action)["passengers"])
    if count > MAX_PASSENGERS:
        yield Hit(DEFINITE, f"books {count} passengers in one reservation")


@action_rule(
    "passengers.details",
    "Every passenger has a first name, last name and date of birth",
    ("book_reservation", "update_reservation_passengers"),
    (DEFINITE, DEFECT),
    Q_PASSENGER_DETAILS,
)
def _passengers_details(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    yield from _passenger_hits(_kwargs(action)["passengers"])


@action_rule(
    "booking.user",
    "The gold books for (and compensates) the user it talks to",
    ("book_reservation", "send_certificate"),
    (DEFECT,),
)
def _booking_user(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    user_id = _kwargs(action)["user_id"]
    if context.user_id is not None and user_id != context.user_id:
        yield Hit(DEFECT, f"{action.name} for user {user_id}, but the conversation is with {context.user_id}")


# ---------------------------------------------------------------------------------------------
# Compensation


def _disruptions(state: AirlineState, user: Any) -> list[tuple[Any, str]]:
    """(reservation, 'cancelled' | 'delayed') for each of the user's reservations hit by one."""
    found = []
    for rid in user.reservations:
        reservation = state.reservation(rid)
        if reservation is None:
            continue
        for kind in ("cancelled", "delayed"):
            if segments_with_status(state, reservation, {kind}):
                found.append((reservation, kind))
    return found


def _covered(user: Any, reservation: Any) -> bool:
    return (
        user.membership in ("silver", "gold")
        or reservation.insurance == "yes"
        or reservation.cabin == "business"
    )


def _amounts(disruptions: Iterable[tuple[Any, str]]) -> dict[int, list[tuple[Any, str]]]:
    amounts: dict[int, list[tuple[Any, str]]] = {}
    for reservation, kind in disruptions:
        per_passenger = 100 if kind == "cancelled" else 50
        amounts.setdefault(per_passenger * len(reservation.passengers), []).append((reservation, kind))
    return amounts


@action_rule(
    "compensation.grounds",
    "Compensation only for a cancelled or delayed flight of the user's",
    ("send_certificate",),
    (DEFINITE,),
    Q_COMPENSATION_REASONS,
)
def _compensation_grounds(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    user = state.user(_kwargs(action)["user_id"])
    if user is not None and not _disruptions(state, user):
        yield Hit(
            DEFINITE,
            f"sends a ${_kwargs(action)['amount']} certificate, but none of {user.user_id}'s reservations "
            "has a "
            "cancelled or delayed flight",
        )


@action_rule(
    "compensation.eligibility",
    "No compensation for a regular member without insurance flying (basic) economy",
    ("send_certificate",),
    (DEFINITE, POSSIBLE),
    Q_COMPENSATION_WHO,
)
def _compensation_eligibility(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    user = state.user(_kwargs(action)["user_id"])
    if user is None or user.membership != "regular":
        return
    disrupted = _disruptions(state, user)
    if not disrupted:
        return  # compensation.grounds
    referenced = referenced_reservations(context)
    candidates = [d for d in disrupted if d[0].reservation_id in referenced] or disrupted
    if any(_covered(user, reservation) for reservation, _ in candidates):
        return
    ids = ", ".join(sorted({r.reservation_id for r, _ in candidates}))
    severity = DEFINITE if not any(_covered(user, r) for r, _ in disrupted) else POSSIBLE
    yield Hit(
        severity,
        f"compensates regular member {user.user_id}, whose disrupted reservation(s) {ids} have no travel "
        "insurance and are not business",
    )


@action_rule(
    "compensation.amount",
    "A certificate is $100 x passengers for a cancelled flight, $50 x passengers for a delay",
    ("send_certificate",),
    (DEFINITE, POSSIBLE),
    (*Q_COMPENSATION_CANCELLED, *Q_COMPENSATION_DELAYED),
)
def _compensation_amount(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = _kwargs(action)
    user = state.user(kwargs["user_id"])
    if user is None:
        return
    disrupted = [d for d in _disruptions(state, user) if _covered(user, d[0])]
    if not disrupted:
        return  # compensation.grounds or compensation.eligibility
    referenced = referenced_reservations(context)
    candidates = [d for d in disrupted if d[0].reservation_id in referenced] or disrupted
    amount = int(kwargs["amount"])
    if amount in _amounts(candidates):
        return
    options = ", ".join(
        f"${value} ({r.reservation_id}, {kind}, {len(r.passengers)} passenger(s))"
        for value, hits in sorted(_amounts(candidates).items())
        for r, kind in hits
    )
    severity = POSSIBLE if amount in _amounts(disrupted) else DEFINITE
    kinds = {kind for _, kind in candidates}
    quotes = Q_COMPENSATION_DELAYED if kinds == {"delayed"} else Q_COMPENSATION_CANCELLED
    yield Hit(
        severity,
        f"sends a ${amount} certificate; the policy's amounts here are {options}",
        quote=context.policy.quote(quotes),
    )


@action_rule(
    "compensation.delay_without_change",
    "A delay is compensated only together with changing or cancelling that reservation",
    ("send_certificate",),
    (POSSIBLE,),
    Q_COMPENSATION_DELAYED,
)
def _compensation_delay(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = _kwargs(action)
    user = state.user(kwargs["user_id"])
    if user is None:
        return
    matching = _amounts([d for d in _disruptions(state, user) if _covered(user, d[0])]).get(
        int(kwargs["amount"]), []
    )
    if not matching or any(kind == "cancelled" for _, kind in matching):
        return
    changed = {
        _kwargs(other).get("reservation_id")
        for other in context.actions
        if other.name in ("cancel_reservation", "update_reservation_flights")
    }
    if not any(r.reservation_id in changed for r, _ in matching):
        ids = ", ".join(r.reservation_id for r, _ in matching)
        yield Hit(
            POSSIBLE,
            f"compensates a delay ({ids}) without changing or cancelling that reservation (tau2's own tasks "
            "do this too)",
        )


@action_rule(
    "compensation.asked",
    "Compensation only when the user asks for it",
    ("send_certificate",),
    (POSSIBLE,),
    Q_COMPENSATION_ASKED,
)
def _compensation_asked(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    if context.instruction is not None and not ASKS_COMPENSATION.search(context.instruction):
        yield Hit(
            POSSIBLE, "sends a certificate, but the instruction never has the user ask for compensation"
        )


@action_rule(
    "compensation.repeated",
    "One certificate per complaint",
    ("send_certificate",),
    (POSSIBLE,),
)
def _compensation_repeated(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    if context.index is None:
        return
    earlier = [a for a in context.actions[: context.index] if a.name == "send_certificate"]
    if earlier:
        yield Hit(
            POSSIBLE, f"sends a certificate after {len(earlier)} earlier one(s) in the same conversation"
        )


def rules_table() -> list[dict[str, Any]]:
    """Every rule with its kind, severities and policy sentences (for docs and reports)."""
    import taugepa.rules.conversation  # noqa: F401  (registers the conversation rules)
    import taugepa.rules.task_checks  # noqa: F401  (registers the task-level rules)

    return [
        {
            "id": rule.id,
            "title": rule.title,
            "kind": rule.kind,
            "severities": list(rule.severities),
            "applies_to": list(rule.applies_to),
            "policy": list(rule.quotes),
            "note": rule.note,
        }
        for rule in RULES.values()
    ]
