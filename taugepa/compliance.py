"""Old import path of policy compliance, kept working: the module is `taugepa.rules.compliance` now."""

from taugepa._lazy import moved_module

__getattr__, __dir__ = moved_module(__name__, "taugepa.rules.compliance")
