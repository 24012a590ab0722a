"""The benchmark's LLM options as pytest options and ini settings (`taugepa_<name>`).

The options themselves and their validation live in `taugepa.llm.settings`, shared with
the `taugepa` command line; this module only adapts them to pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taugepa.llm.settings import LLM_OPTIONS, NO_CACHE_FLAG, LLMSettings, resolve_llm_settings

INI_PREFIX = "taugepa_"


def add_llm_options(group: Any, parser: pytest.Parser) -> None:
    for flag, name, help_text in LLM_OPTIONS:
        group.addoption(
            flag,
            dest=INI_PREFIX + name,
            default=None,
            metavar=flag[2:].upper().replace("-", "_"),
            help=help_text.replace("%", "%%"),
        )
        parser.addini(INI_PREFIX + name, help_text, type="string", default=None)
    flag, name, help_text = NO_CACHE_FLAG
    group.addoption(
        flag, dest=INI_PREFIX + name, action="store_true", default=None, help=help_text.replace("%", "%%")
    )
    parser.addini(
        "taugepa_use_llm_cache", "use the LLM response cache (default true)", type="bool", default=True
    )


def resolve_llm_options(
    get: Callable[[str], tuple[Any, Path | None]], config: pytest.Config, agent: str
) -> LLMSettings:
    """Validate the LLM options; `get(ini)` returns (value, folder of relative paths)."""
    no_cache = config.getoption(INI_PREFIX + NO_CACHE_FLAG[1])
    use_cache = not no_cache if no_cache is not None else bool(config.getini("taugepa_use_llm_cache"))
    return resolve_llm_settings(lambda name: get(INI_PREFIX + name), agent, use_cache)
