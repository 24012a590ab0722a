"""Tasks: what the user wants and the gold actions that do it, loaded with stable ids.

Loading and ids (`load_tasks`), the built-in sets, the train/validation split, and each
task's gold outcome (its replayed database digest, cached per task content and engine).
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "Action": "taugepa.tasks.model",
    "Task": "taugepa.tasks.model",
    "TaskSource": "taugepa.tasks.model",
    "TaskCollection": "taugepa.tasks.model",
    "TAU2_AIRLINE": "taugepa.tasks.loading",
    "TAUGEPA_AIRLINE": "taugepa.tasks.loading",
    "DEFAULT_TASK_SET": "taugepa.tasks.loading",
    "builtin_task_sets": "taugepa.tasks.loading",
    "load_tasks": "taugepa.tasks.loading",
    "set_name_from_file": "taugepa.tasks.loading",
    "parse_v1_tasks": "taugepa.tasks.loading",
    "Gold": "taugepa.tasks.gold",
    "GoldCache": "taugepa.tasks.gold",
    "default_gold_cache": "taugepa.tasks.gold",
    "replay_gold": "taugepa.tasks.gold",
    "Shard": "taugepa.tasks.shard",
    "parse_shard": "taugepa.tasks.shard",
    "Split": "taugepa.tasks.split",
    "split_tasks": "taugepa.tasks.split",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
