"""Old import path of the policy rules, kept working: they live in `taugepa.rules` now.

`check_action`, `check_sequence` and `rules_table` come from `taugepa.rules.catalog` (which
registers every rule), the machinery from `taugepa.rules.registry`, the policy sentences and
helpers from the topic modules.
"""

from taugepa._lazy import moved_module

__getattr__, __dir__ = moved_module(
    __name__,
    "taugepa.rules.catalog",
    "taugepa.rules.registry",
    "taugepa.rules.cancellation",
    "taugepa.rules.changes",
    "taugepa.rules.bags",
    "taugepa.rules.booking",
    "taugepa.rules.compensation",
)
