"""Cancellation rules: no cancelling a trip that has flown, and only on the policy's grounds.

`cancel_reservation` is allowed within 24 h of booking, after an airline cancellation, in
business, or with travel insurance for a health or weather reason (`cancel.eligibility`);
never once a segment has flown (`cancel.flown`); and a cancelled reservation cannot be
cancelled again (`cancel.repeated`, a broken task: the engine would refund it twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from taugepa.rules.common import cabin_name, kwargs_of
from taugepa.rules.registry import DEFECT, DEFINITE, POSSIBLE, Hit, RuleContext, action_rule
from taugepa.tasks.model import Action
from taugepa.world.facts import (
    AirlineState,
    booked_within_24h,
    flown_segments,
    segment_status,
    segments_with_status,
)

# Policy sentences, verbatim: tau2's policy.md first, then tau-bench v1's wiki.md where different.
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


# Words that state a reason travel insurance covers ("health or weather reasons").
COVERED_REASON = re.compile(
    r"\b(sick|sickness|ill|illness|unwell|not feeling well|health|medical|hospital\w*|injur\w*|surgery|"
    r"doctor|fever|flu|covid|weather|storm\w*|hurricane|snow\w*|blizzard|tornado|flood\w*|typhoon)\b",
    re.IGNORECASE,
)


@action_rule(
    "cancel.flown",
    "No cancellation once any segment has been flown (transfer to a human agent instead)",
    ("cancel_reservation",),
    (DEFINITE,),
    Q_CANCEL_FLOWN,
)
def _cancel_flown(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    reservation = state.reservation(kwargs_of(action)["reservation_id"])
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
    reservation = state.reservation(kwargs_of(action)["reservation_id"])
    if reservation is None or reservation.status == "cancelled" or flown_segments(state, reservation):
        return  # cancel.flown or cancel.repeated says what is wrong
    if (
        booked_within_24h(reservation)
        or segments_with_status(state, reservation, {"cancelled"})
        or reservation.cabin == "business"
    ):
        return
    rid, cabin = reservation.reservation_id, cabin_name(reservation.cabin)
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
    reservation = state.reservation(kwargs_of(action)["reservation_id"])
    if reservation is not None and reservation.status == "cancelled":
        yield Hit(
            DEFECT, f"{reservation.reservation_id} is already cancelled: the engine refunds it a second time"
        )
