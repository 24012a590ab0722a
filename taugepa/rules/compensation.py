"""Compensation rules: when a certificate may be sent, to whom, and for how much.

Only for a cancelled or delayed flight of the user's (`compensation.grounds`), not to a
regular member without insurance in (basic) economy (`compensation.eligibility`), $100 or $50
per passenger (`compensation.amount`), a delay only with a change or cancellation
(`compensation.delay_without_change`), only when asked (`compensation.asked`) and once
(`compensation.repeated`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from taugepa.rules.common import kwargs_of
from taugepa.rules.registry import DEFINITE, POSSIBLE, Hit, RuleContext, action_rule
from taugepa.tasks.model import Action
from taugepa.world.facts import AirlineState, segments_with_status

# Policy sentences, verbatim: tau2's policy.md first, then tau-bench v1's wiki.md where different.
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


ASKS_COMPENSATION = re.compile(
    r"compensat\w*|voucher|certificate|refund|reimburs\w*|gesture|make (it )?up|credit", re.IGNORECASE
)
RESERVATION_ID = re.compile(r"\b[A-Z0-9]{6}\b")


def referenced_reservations(context: RuleContext) -> set[str]:
    """Reservation ids the task's instruction or actions mention."""
    found = set(RESERVATION_ID.findall(context.instruction or ""))
    for action in context.actions:
        rid = kwargs_of(action).get("reservation_id")
        if isinstance(rid, str):
            found.add(rid)
    return found


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
    user = state.user(kwargs_of(action)["user_id"])
    if user is not None and not _disruptions(state, user):
        yield Hit(
            DEFINITE,
            f"sends a ${kwargs_of(action)['amount']} certificate, but none of {user.user_id}'s reservations "
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
    user = state.user(kwargs_of(action)["user_id"])
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
    kwargs = kwargs_of(action)
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
    kwargs = kwargs_of(action)
    user = state.user(kwargs["user_id"])
    if user is None:
        return
    matching = _amounts([d for d in _disruptions(state, user) if _covered(user, d[0])]).get(
        int(kwargs["amount"]), []
    )
    if not matching or any(kind == "cancelled" for _, kind in matching):
        return
    changed = {
        kwargs_of(other).get("reservation_id")
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
