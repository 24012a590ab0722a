"""`--track {none,mlflow,wandb}`: GEPA's own MLflow / Weights & Biases logging, passed through.

The packages are optional (`pip install 'taugepa[mlflow]'` or `'taugepa[wandb]'`); a missing
one is a one-line error before anything is spent. MLflow logs where `MLFLOW_TRACKING_URI`
points (MLflow's default otherwise) under the experiment `taugepa-optimize`; W&B logs to the
project `$WANDB_PROJECT` (default `taugepa`), the run named after the run directory, and
needs a W&B login (`wandb login` or `WANDB_API_KEY`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError

TRACKERS = ("none", "mlflow", "wandb")
MLFLOW_EXPERIMENT = "taugepa-optimize"


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return False


def check_tracking(track: str) -> None:
    """ConfigError (one line) for an unknown tracker or a missing package."""
    if track not in TRACKERS:
        raise ConfigError(f"--track must be one of {', '.join(TRACKERS)}, got {track!r}")
    if track != "none" and not _installed(track):
        raise ConfigError(
            f"--track {track} needs the {track} package, which is not installed: "
            f"pip install 'taugepa[{track}]' (or pip install {track}), or use --track none"
        )


def tracking_options(track: str, run_dir: Path) -> dict[str, Any]:
    """The keyword arguments of `gepa.optimize` that turn the tracker on."""
    if track == "mlflow":
        return {
            "use_mlflow": True,
            "mlflow_tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
            "mlflow_experiment_name": MLFLOW_EXPERIMENT,
        }
    if track == "wandb":
        return {
            "use_wandb": True,
            "wandb_init_kwargs": {
                "project": os.environ.get("WANDB_PROJECT", "taugepa"),
                "name": Path(run_dir).resolve().name,
                "dir": str(run_dir),
            },
        }
    return {}
