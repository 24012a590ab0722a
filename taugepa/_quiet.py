"""Keep imports of tau2 (and anything that pulls in litellm) silent and offline.

tau2 logs through loguru at DEBUG on every tool call and warns at import when no
`.env` file exists; litellm fetches a model price map from the internet at import
unless told to use its bundled copy. This module must run before tau2 is imported.

Importing loguru costs tens of milliseconds (it loads asyncio), and most processes that
import taugepa never import tau2 (a test run, a worker that has not run a tool yet), so
loguru is silenced for tau2 just before tau2 itself is first imported, by a finder that
watches for that one import and then steps aside.
"""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder
from typing import Any


def silence_dependencies() -> None:
    """Make tau2 quiet and keep litellm off the network (idempotent)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if "tau2" in sys.modules:
        _disable_tau2_logging()
    elif not any(isinstance(finder, _SilenceTau2OnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SilenceTau2OnImport())


def _disable_tau2_logging() -> None:
    from loguru import logger

    logger.disable("tau2")


class _SilenceTau2OnImport(MetaPathFinder):
    """Silences tau2's logging when `tau2` is about to be imported, then removes itself."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "tau2":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _disable_tau2_logging()
        return None  # the usual finders import tau2
