"""Old import path of the action rules, kept working: the module is `taugepa.rules.policy_rules` now."""

from taugepa._lazy import moved_module

__getattr__, __dir__ = moved_module(__name__, "taugepa.rules.policy_rules")
