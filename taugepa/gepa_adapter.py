"""Old import path of the GEPA adapter, kept working: the module is `taugepa.optimize.adapter` now."""

from taugepa._lazy import moved_module

__getattr__, __dir__ = moved_module(__name__, "taugepa.optimize.adapter")
