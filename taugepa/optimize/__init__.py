"""Optimize the wiki with GEPA, evaluating every candidate through the same episodes.

`WikiAdapter` (a `gepa.GEPAAdapter`) scores candidates with the harness and builds the
reflective records; `run_optimize` is `taugepa optimize`: split, plan, GEPA, resume, outputs.
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
    "WIKI_COMPONENT": "taugepa.optimize.adapter",
    "WikiAdapter": "taugepa.optimize.adapter",
    "HarnessSettings": "taugepa.optimize.adapter",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
