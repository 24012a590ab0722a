"""The policy text the agent is given: the wiki, then the few-shot demonstrations block.

The one place the two are composed (`agent_policy_text`). Where it goes:

- taugepa's protocol: the text is the agent's system message, as is.
- tau2's protocol (`--protocol tau2`): the text is what tau2's agent template puts between
  `<policy>` and `</policy>` (after its `<instructions>`); tau2's template has one slot for
  domain text, so the block stands at the end of the policy, under its own heading that
  says the examples are not policy.

Compliance and the task audit judge the agent against the wiki alone (never this text): a
demonstration is an example of handling a request, not a rule.
"""

from __future__ import annotations

from taugepa.episode.fewshot import Demonstrations, render_block

FEWSHOT_HEADING = "## Worked examples"
FEWSHOT_PREAMBLE = (
    "The conversations below show how earlier customer requests were handled under the policy "
    "above. They are examples, not policy: where an example and the policy differ, follow the policy."
)


def agent_policy_text(wiki: str, demonstrations: Demonstrations | None) -> str:
    """The wiki, followed by the demonstrations block when there are demonstrations."""
    if not demonstrations:
        return wiki
    return f"{wiki.rstrip()}\n\n{FEWSHOT_HEADING}\n\n{FEWSHOT_PREAMBLE}\n\n{render_block(demonstrations)}\n"
