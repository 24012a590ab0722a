"""Checked-bag scenarios: add bags to a reservation, or ask how many it carries for free.

Both turn on the free-bag allowance (per passenger, by membership and cabin), which decides
the fee for added bags and is the required answer to the question.
"""

from __future__ import annotations

from taugepa.generate import phrasing as say
from taugepa.generate.base import Draft, Generator
from taugepa.world.facts import EXTRA_BAG_PRICE, paid_bags_after_adding


def add_bags(g: Generator) -> Draft | None:
    rng = g.rng
    rid = rng.choice(g.candidates("bookable", lambda r: g.pools.bookable(r.reservation_id)))
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    added = rng.choice((1, 1, 2, 2, 3, 4))
    free = g.free_bags(user, r.cabin)
    nonfree = paid_bags_after_adding(r, r.total_baggages + added, free)
    fee = EXTRA_BAG_PRICE * (nonfree - r.nonfree_baggages)
    method = g.pay_for_change(user, fee)
    if method is None:
        return None
    draft = g.start("add_bags", r.user_id, (rid,))
    if draft is None:
        return None
    draft.reasoning += 1  # which of the new bags are free
    draft.sentences += [
        f"You want to add {added} checked bag{'s' if added > 1 else ''} to "
        f"{g.reservation_phrase(draft, rid, locate=rng.random() < 0.3)}.",
        f"If there is a fee, pay it with {say.payment_method(rng, method)}.",
    ]
    if fee and rng.random() < 0.4:  # a required "0" would match almost any answer
        draft.outputs.append(str(fee))
        draft.sentences.append("You want to know how much the extra bags cost in total, in dollars.")
    draft.act("get_reservation_details", reservation_id=rid)
    draft.act(
        "update_reservation_baggages",
        reservation_id=rid,
        total_baggages=r.total_baggages + added,
        nonfree_baggages=nonfree,
        payment_id=method.id,
    )
    return g.finish(draft)


def bag_question(g: Generator) -> Draft | None:
    rng = g.rng
    rid = rng.choice(g.candidates("bookable", lambda r: g.pools.bookable(r.reservation_id)))
    r = g.pools.reservation(rid)
    user = g.pools.user(r.user_id)
    draft = g.start("bag_question", r.user_id, (rid,))
    if draft is None:
        return None
    draft.reasoning += 1
    free = g.free_bags(user, r.cabin) * len(r.passengers)
    if free == 0:
        return None  # "0" as a required output would match almost any answer
    draft.sentences.append(
        f"You want to know how many checked bags {g.reservation_phrase(draft, rid)} includes for "
        "free, in total "
        "for all its passengers. You only want the number and do not want to change anything."
    )
    draft.outputs.append(str(free))
    draft.act("get_reservation_details", reservation_id=rid)
    draft.act("get_user_details", user_id=r.user_id)
    return g.finish(draft)
