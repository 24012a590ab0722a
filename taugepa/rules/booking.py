"""Booking rules: how a new reservation is paid for and who travels on it.

At most one certificate, one credit card and three gift cards (`payment.limits`), at most
five passengers (`passengers.limit`), every passenger with a name and birth date
(`passengers.details`, which also judges passenger updates), and booked (or compensated)
for the user in the conversation (`booking.user`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from taugepa.rules.common import kwargs_of
from taugepa.rules.registry import DEFECT, DEFINITE, Hit, RuleContext, action_rule
from taugepa.tasks.model import Action
from taugepa.world.facts import MAX_PASSENGERS, AirlineState, payment_sources

# Policy sentences, verbatim: tau2's policy.md first, then tau-bench v1's wiki.md where different.
Q_PAYMENT_LIMITS = (
    "Each reservation can use at most one travel certificate, at most one credit card, and at most three "
    "gift "
    "cards.",
)
Q_MAX_PASSENGERS = ("Each reservation can have at most five passengers.",)
Q_PASSENGER_DETAILS = (
    "The agent needs to collect the first name, last name, and date of birth for each passenger.",
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


@action_rule(
    "payment.limits",
    "At most one certificate, one credit card and three gift cards per reservation",
    ("book_reservation",),
    (DEFINITE,),
    Q_PAYMENT_LIMITS,
)
def _payment_limits(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = kwargs_of(action)
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
    count = len(kwargs_of(action)["passengers"])
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
    yield from _passenger_hits(kwargs_of(action)["passengers"])


@action_rule(
    "booking.user",
    "The gold books for (and compensates) the user it talks to",
    ("book_reservation", "send_certificate"),
    (DEFECT,),
)
def _booking_user(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    user_id = kwargs_of(action)["user_id"]
    if context.user_id is not None and user_id != context.user_id:
        yield Hit(DEFECT, f"{action.name} for user {user_id}, but the conversation is with {context.user_id}")
