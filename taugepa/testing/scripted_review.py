"""A scripted review model (`--review-model`): overrules one kind of simulator blame, confirms the rest.

It overrules "user simulator ended early" and confirms every other claim, so that a run with
`taugepa.testing.scripted_deviations.mixed_scenario` shows both verdicts. It answers by the
claim's label alone, as a scripted model does: the prompt's wording does not matter to it.
"""

from __future__ import annotations

import json
from typing import Any

from taugepa.testing.scripted_models import ScriptedModels

SCRIPTED_REVIEWER_MODEL = "scripted-reviewer"
OVERRULED_CLAIM = "user simulator ended early"  # the cause's label, as the review prompt shows it
_CLAIM = "## What the analysis claims\n"


def scripted_reviewer(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    prompt = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    claim = prompt.split(_CLAIM, 1)[1] if _CLAIM in prompt else ""
    if claim.startswith(OVERRULED_CLAIM):
        answer = {"verdict": "overrule", "reason": "the agent asked a question it did not need to ask"}
    else:
        answer = {"verdict": "confirm", "reason": "the customer said what its instruction does not give"}
    return {"role": "assistant", "content": json.dumps(answer)}


REVIEW_MODELS = {SCRIPTED_REVIEWER_MODEL: scripted_reviewer}
