"""Small helpers the action rules of several topics share (and nothing else does).

They live apart from `registry` (the rule machinery) and from the topic modules, so that a
topic reads another topic's helper from neither.
"""

from __future__ import annotations

from typing import Any

from taugepa.tasks.model import Action


def kwargs_of(action: Action) -> dict[str, Any]:
    """The action's arguments, or none if the action carries something else."""
    return action.kwargs if isinstance(action.kwargs, dict) else {}


def cabin_name(cabin: str) -> str:
    """A cabin as a message writes it ("basic economy")."""
    return cabin.replace("_", " ")
