"""Old import path of the task audit, kept working: the module is `taugepa.rules.audit` now."""

from taugepa._lazy import moved_module

__getattr__, __dir__ = moved_module(__name__, "taugepa.rules.audit")
