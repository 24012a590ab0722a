"""Checked-bag rules: bags can be added, not removed, and the extra ones are paid for.

`bags.remove` forbids lowering a reservation's bag count; `bags.fee` checks the non-free count
of a booking or a bag update against the free allowance of the user's membership and cabin,
read from the policy in force (tau2 and tau-bench v1 differ for gold members in business).
"""

from __future__ import annotations

from collections.abc import Iterable

from taugepa.rules.common import cabin_name, kwargs_of
from taugepa.rules.registry import DEFINITE, POSSIBLE, Hit, RuleContext, action_rule
from taugepa.tasks.model import Action
from taugepa.world.facts import (
    EXTRA_BAG_PRICE,
    AirlineState,
    expected_nonfree_bags,
    paid_bags_after_adding,
)

# Policy sentences, verbatim: tau2's policy.md first, then tau-bench v1's wiki.md where different.
Q_BAGS_ADD_ONLY = ("The user can add but not remove checked bags.",)


@action_rule(
    "bags.remove",
    "Checked bags can be added, not removed",
    ("update_reservation_baggages",),
    (DEFINITE,),
    Q_BAGS_ADD_ONLY,
)
def _bags_remove(state: AirlineState, action: Action, context: RuleContext) -> Iterable[Hit]:
    kwargs = kwargs_of(action)
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
    kwargs = kwargs_of(action)
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
        f"{passengers} {cabin_name(cabin)} passenger(s) get {free * passengers} free, so {expected} "
        "should be non-free"
    )
