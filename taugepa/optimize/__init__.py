"""Optimize the wiki with GEPA, evaluating every candidate through the same episodes.

`WikiAdapter` (a `gepa.GEPAAdapter`) scores candidates with the harness and builds the
reflective records; `ComponentSet` says what a candidate is (the wiki whole or by sections,
tool descriptions); `run_optimize` is `taugepa optimize`: split, plan, GEPA, resume,
outputs, and the transfer step on held-out test tasks.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "OUTPUT_FILES": "taugepa.optimize.settings",
    "SETTINGS_FILE": "taugepa.optimize.settings",
    "OptimizeSettings": "taugepa.optimize.settings",
    "RolloutPlan": "taugepa.optimize.settings",
    "OptimizeOutcome": "taugepa.optimize.settings",
    "select_tasks": "taugepa.optimize.run",
    "run_optimize": "taugepa.optimize.run",
    "WIKI_COMPONENT": "taugepa.optimize.components",
    "ComponentSet": "taugepa.optimize.components",
    "EasyFirstSampler": "taugepa.optimize.curriculum",
    "WikiAdapter": "taugepa.optimize.adapter",
    "TRANSFER_FILES": "taugepa.optimize.transfer",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
