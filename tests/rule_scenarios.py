"""Small tasks on known reservations, and actions that break the policy on purpose.

The scripted agent plays a task's gold actions, or the actions `PLAYS` gives it instead:
each play breaks one action rule of the airline policy (facts from tau2's database).
"""

from __future__ import annotations

import json
from pathlib import Path

from taugepa.tasks.model import Action

CANCEL_BUSINESS = {  # 4WQ150: business, not flown: the policy allows the cancellation
    "user_id": "chen_jackson_3290",
    "instruction": "Your user id is chen_jackson_3290. You want to cancel reservation 4WQ150 because your "
    "plans changed.",
    "actions": [{"name": "cancel_reservation", "kwargs": {"reservation_id": "4WQ150"}}],
}
ADD_BAGS = {  # 4NQCM5: a regular member's economy reservation, 1 passenger, no bags: 1 of 2 is free
    "user_id": "raj_garcia_4690",
    "instruction": "Your user id is raj_garcia_4690. You want to add 2 checked bags to reservation 4NQCM5 "
    "for your trip, paying with your gift card.",
    "actions": [
        {
            "name": "update_reservation_baggages",
            "kwargs": {
                "reservation_id": "4NQCM5",
                "total_baggages": 2,
                "nonfree_baggages": 1,
                "payment_id": "gift_card_2698099",
            },
        }
    ],
}
CANCEL_FLOWN = {  # NQNU5R: its flights landed on May 13 and 14: transfer, do not cancel
    "user_id": "aarav_ahmed_6699",
    "instruction": "Your user id is aarav_ahmed_6699. You want to cancel reservation NQNU5R because you are "
    "sick.",
    "actions": [{"name": "transfer_to_human_agents", "kwargs": {"summary": "cancel a flown trip"}}],
}
CANCEL_NO_GROUNDS = {  # H9ZU1C: economy, booked May 1, no insurance: the policy forbids cancelling
    "user_id": "mia_kim_4397",
    "instruction": "Your user id is mia_kim_4397. You want to cancel reservation H9ZU1C because your plans "
    "changed.",
    "actions": [],
}
CANCEL_TERSE = {  # the same allowed cancellation, but the user gives neither a reason nor a user id
    "user_id": "chen_jackson_3290",
    "instruction": "Cancel reservation 4WQ150.",
    "actions": [{"name": "cancel_reservation", "kwargs": {"reservation_id": "4WQ150"}}],
}
TASKS = [CANCEL_BUSINESS, ADD_BAGS, CANCEL_FLOWN, CANCEL_NO_GROUNDS, CANCEL_TERSE]
SET = "rules"  # task ids: rules-0 ... rules-4

PLAYS = {
    "rules-1": [  # charges for the bag the allowance makes free
        Action(
            "update_reservation_baggages",
            {
                "reservation_id": "4NQCM5",
                "total_baggages": 2,
                "nonfree_baggages": 2,
                "payment_id": "gift_card_2698099",
            },
        )
    ],
    "rules-2": [Action("cancel_reservation", {"reservation_id": "NQNU5R"})],  # cancels a flown trip
    "rules-3": [Action("cancel_reservation", {"reservation_id": "H9ZU1C"})],  # cancels without grounds
}


def write_task_file(folder: Path) -> str:
    """Write the tasks to `folder/rules.json` and return the `--tasks` spec that loads them."""
    path = folder / "rules.json"
    path.write_text(json.dumps(TASKS, indent=1))
    return f"{SET}={path}"


def write_plays_file(folder: Path) -> Path:
    """The plays as JSON for `python -m taugepa.testing.scripted_server --plays FILE`."""
    path = folder / "plays.json"
    path.write_text(json.dumps({task: [a.to_dict() for a in actions] for task, actions in PLAYS.items()}))
    return path
