"""Keep imports of tau2 (and anything that pulls in litellm) silent and offline.

tau2 logs through loguru at DEBUG on every tool call and warns at import when no
`.env` file exists; litellm fetches a model price map from the internet at import
unless told to use its bundled copy. This module must run before tau2 is imported.
"""

from __future__ import annotations

import os


def silence_dependencies() -> None:
    """Make tau2 quiet and keep litellm off the network (idempotent)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from loguru import logger

    logger.disable("tau2")
