"""The rule registry: what a rule is, what it finds, and the table every rule joins.

A rule is one policy sentence (or one sanity check on a task) turned into code. The topic
modules (`cancellation`, `changes`, `bags`, `booking`, `compensation`), `task_checks` and
`conversation` each register their rules here, so this module imports none of them and
they can all import it; `taugepa.rules.catalog` imports every rule module in a fixed order
and checks actions against the complete table.

Each finding has a severity:
- `definite`: the policy clearly forbids it (conservative: a definite finding must be right);
- `possible`: it depends on something only the conversation can tell (the reason for an
  insurance cancellation, whether a basic-economy change came with an agreed upgrade, ...);
- `defect`: not a policy rule, but the task is broken (an itinerary that does not connect,
  a gold that acts on another user's reservation, ...);
- `info`: worth knowing, nothing wrong.

Every rule carries the policy sentence(s) it comes from, verbatim from tau2's `policy.md` and
from tau-bench v1's `wiki.md` where they differ; a finding quotes the one the policy in force
contains (`Policy.quote`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from taugepa.tasks.model import Action
from taugepa.world.facts import MEMBERSHIPS, AirlineState
from taugepa.world.policy import Policy, Quote

DEFINITE, POSSIBLE, DEFECT, INFO = "definite", "possible", "defect", "info"
SEVERITIES = (DEFINITE, POSSIBLE, DEFECT, INFO)
RULES_VERSION = "1"  # bump when a rule changes what it finds: audit files record it


@dataclass(frozen=True)
class Finding:
    """One thing a task's gold (or an agent's action) does against the policy or common sense."""

    rule: str
    severity: str
    message: str
    action_index: int | None = None
    action_name: str | None = None
    policy: str | None = None
    policy_found: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "action_index": self.action_index,
            "action": self.action_name,
            "message": self.message,
            "policy": self.policy,
            "policy_found": self.policy_found,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            message=data["message"],
            action_index=data.get("action_index"),
            action_name=data.get("action"),
            policy=data.get("policy"),
            policy_found=data.get("policy_found"),
        )


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know besides the database.

    `user_id` is the user the conversation is with (the task's user), `instruction` the
    user's instructions (audits only: an agent never sees them), `actions` the whole
    sequence being checked (a task's gold, or an agent's writes so far) and `index` the
    position of the checked action in it.
    """

    policy: Policy
    user_id: str | None = None
    instruction: str | None = None
    actions: Sequence[Action] = ()
    index: int | None = None


@dataclass(frozen=True)
class Hit:
    """What a rule's check returns: a severity and a message (and a quote, if not the rule's)."""

    severity: str
    message: str
    quote: Quote | None = None


Check = Callable[[AirlineState, Action, RuleContext], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A policy rule (or a task check) with the policy sentences it comes from."""

    id: str
    title: str
    kind: str  # "action": each write; "task": the task as a whole; "conversation": an agent's transcript
    severities: tuple[str, ...]
    quotes: tuple[str, ...] = ()
    applies_to: tuple[str, ...] = ()
    check: Check | None = field(default=None, repr=False, compare=False)
    note: str = ""

    def quote(self, policy: Policy) -> Quote | None:
        return policy.quote(self.quotes) if self.quotes else None

    def finding(
        self, hit: Hit, policy: Policy, index: int | None = None, action_name: str | None = None
    ) -> Finding:
        quote = hit.quote or self.quote(policy)
        return Finding(
            rule=self.id,
            severity=hit.severity,
            message=hit.message,
            action_index=index,
            action_name=action_name,
            policy=quote.text if quote else None,
            policy_found=quote.found if quote else None,
        )


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES:
        raise ValueError(f"rule {rule.id} registered twice")
    RULES[rule.id] = rule
    return rule


def action_rule(
    id: str,
    title: str,
    applies_to: tuple[str, ...],
    severities: tuple[str, ...],
    quotes: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    def decorate(check: Check) -> Check:
        register(Rule(id, title, "action", severities, quotes, applies_to, check))
        return check

    return decorate


def task_rule(
    id: str, title: str, severities: tuple[str, ...], quotes: tuple[str, ...] = (), note: str = ""
) -> Rule:
    """A check on a whole task (done by the audit, not per action): listed with the rules."""
    return register(Rule(id, title, "task", severities, quotes, note=note))


def policy_sentences(rule: Rule, policy: Policy) -> list[tuple[str, bool]]:
    """The sentences a rule rests on in this policy, each with whether the policy contains it.

    Rules whose findings quote a sentence that depends on the case (the free-bag row of the
    user's membership) list every such sentence.
    """
    quote = rule.quote(policy)
    sentences = [(quote.text, quote.found)] if quote is not None else []
    if rule.id == "bags.fee":
        sentences = [(policy.allowance_quote(m).text, policy.allowance_quote(m).found) for m in MEMBERSHIPS]
    return sentences
