"""Generate policy-compliant airline tasks from the engine's database, seeded and reproducible."""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "generate_tasks": "taugepa.generate.generator",
    "BUILTIN_RECIPE": "taugepa.generate.generator",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
