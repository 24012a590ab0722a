"""Every rule, in one fixed order, and the checks that need all of them.

A rule module registers its rules in `registry.RULES` when it is imported. This module
imports every rule module, so whoever checks a write (`check_action`, `check_sequence`) or
lists the rules (`rules_table`) through it sees them all: import the checks from here, never
from a single topic module or the registry alone.

The order is fixed: the action rules topic by topic (cancellation, changes, bags, booking,
compensation; each module in file order), then the task checks, then the conversation rules.
It is the order of the findings on one write and of `taugepa audit --list-rules`. The imports
below register the rules in that order, and `ordered_rules` keeps to it even if some rule
module was imported before this one (as `taugepa.rules.conversation` may be).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The rule modules in catalog order: importing them registers their rules in it.
# isort: off
from taugepa.rules import cancellation, changes, bags, booking, compensation, task_checks, conversation

# isort: on
from taugepa.rules.registry import RULES, Finding, Rule, RuleContext
from taugepa.tasks.model import Action
from taugepa.world.engine import ToolCallError, write_tool_names
from taugepa.world.facts import AirlineState, EngineState

RULE_MODULES = tuple(
    m.__name__ for m in (cancellation, changes, bags, booking, compensation, task_checks, conversation)
)
KINDS = ("action", "task", "conversation")


def ordered_rules(kind: str | None = None) -> list[Rule]:
    """The registered rules (of one kind) in the catalog's order, whatever the import order was."""

    def position(rule: Rule) -> tuple[int, int]:
        # An action rule's module is its check's; a task or conversation rule has one module.
        module = rule.check.__module__ if rule.check is not None else ""
        kind_at = KINDS.index(rule.kind) if rule.kind in KINDS else len(KINDS)
        return kind_at, RULE_MODULES.index(module) if module in RULE_MODULES else len(RULE_MODULES)

    rules = sorted(RULES.values(), key=position)  # stable: each module's rules stay in file order
    return rules if kind is None else [rule for rule in rules if rule.kind == kind]


def check_action(state: AirlineState, action: Action, context: RuleContext) -> list[Finding]:
    """The findings for one write action, given the database just before it runs.

    Arguments the engine would reject are not judged here (the engine's own error says what
    is wrong): a rule that cannot read them finds nothing.
    """
    findings: list[Finding] = []
    for rule in ordered_rules("action"):
        if action.name not in rule.applies_to or rule.check is None:
            continue
        try:
            hits = list(rule.check(state, action, context))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue
        findings.extend(rule.finding(hit, context.policy, context.index, action.name) for hit in hits)
    return findings


def check_sequence(
    engine: Any, actions: Sequence[Action], context: RuleContext
) -> tuple[list[Finding], tuple[int, Exception] | None]:
    """Check each write of `actions` against the engine's database as it evolves.

    Runs every action through `engine.execute` after checking it, and stops at the first one
    the engine rejects: returns the findings so far and (index, error) of that action, if any.
    """
    state, writes, findings = EngineState(engine), write_tool_names(), []
    for index, action in enumerate(actions):
        if action.name in writes:
            findings.extend(check_action(state, action, _at(context, actions, index)))
        try:
            engine.execute(action.name, action.kwargs)
        except ToolCallError as exc:
            return findings, (index, exc)
    return findings, None


def _at(context: RuleContext, actions: Sequence[Action], index: int) -> RuleContext:
    return RuleContext(
        policy=context.policy,
        user_id=context.user_id,
        instruction=context.instruction,
        actions=actions,
        index=index,
    )


def rules_table() -> list[dict[str, Any]]:
    """Every rule with its kind, severities and policy sentences (for docs and reports)."""
    return [
        {
            "id": rule.id,
            "title": rule.title,
            "kind": rule.kind,
            "severities": list(rule.severities),
            "applies_to": list(rule.applies_to),
            "policy": list(rule.quotes),
            "note": rule.note,
        }
        for rule in ordered_rules()
    ]
