"""Compensation scenarios: a user whose flight the airline cancelled asks for compensation.

Eligibility (status, insurance or business cabin) decides between a travel certificate sent
and a refusal, so both sides of the policy's compensation rule come from one builder.
"""

from __future__ import annotations

from typing import Any

from taugepa.generate import phrasing as say
from taugepa.generate.base import Draft, Generator
from taugepa.world.facts import segments_with_status


def disrupted(g: Generator, r: Any) -> str | None:
    """What the airline did to the reservation that could call for compensation ("cancelled": one of
    its flights), or None."""
    state = g.pools.state
    if segments_with_status(state, r, {"cancelled"}):
        return "cancelled"
    return None


def compensation(g: Generator) -> Draft | None:
    rng = g.rng
    eligible = rng.random() < 0.6
    pool = g.candidates(
        f"compensation-{eligible}",
        lambda r: (
            disrupted(g, r) is not None
            and r.status is None
            and (
                g.pools.user(r.user_id).membership != "regular"
                or r.insurance == "yes"
                or r.cabin == "business"
            )
            == eligible
        ),
    )
    rid = rng.choice(pool)
    r = g.pools.reservation(rid)
    segment = segments_with_status(g.pools.state, r, {"cancelled"})[0]
    draft = g.start("compensation" if eligible else "compensation_refused", r.user_id, (rid,))
    if draft is None:
        return None
    draft.reasoning += 2  # confirm the facts, eligibility and amount
    draft.sentences += [
        f"Your flight {segment.flight_number} on {say.day(rng, segment.date)} "
        f"({g.reservation_phrase(draft, rid)}) "
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
    return g.finish(draft)
