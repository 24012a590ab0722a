"""The airline policy as code, and what it says about tasks and agents.

Rules (`registry`, one module per topic: `cancellation`, `changes`, `bags`, `booking`,
`compensation`) judge a write against the database before it; `conversation` judges a
transcript; `task_checks` a task as a whole. `catalog` registers them all in a fixed order
and checks writes (`check_action`, `check_sequence`). The audit applies them to a task's
gold, `compliance` to an agent's episode.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "check_action": "taugepa.rules.catalog",
    "check_sequence": "taugepa.rules.catalog",
    "rules_table": "taugepa.rules.catalog",
    "RULES": "taugepa.rules.catalog",  # the registry's table, complete once the catalog is imported
    "Finding": "taugepa.rules.registry",
    "RuleContext": "taugepa.rules.registry",
    "audit_tasks": "taugepa.rules.audit",
    "clean_tasks": "taugepa.rules.audit",
    "select_tasks": "taugepa.rules.audit",
    "gold_policy_note": "taugepa.rules.audit",
    "objective_score": "taugepa.rules.compliance",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
