"""The plugin's hookspecs: what a conftest.py (or another plugin) may implement.

Registered by `pytest_taugepa.plugin.pytest_addhooks`, as pytest-xdist (`newhooks.py`) and
pytest-html (`hooks.py`) publish theirs.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_taugepa_make_agent(config: pytest.Config) -> Any:
    """Return the agent factory this benchmark run uses, or None to leave the choice to --agent.

    The factory is what `--agent package.module:factory` names: a class or function taking a
    `taugepa.agents.AgentContext` and returning an agent with `act(messages)` (see
    docs/agents.md). Called once per process at the start of the session (by each xdist worker
    too); the first non-None result wins and overrides --agent. Give the factory `name` and
    `version` (`taugepa.agents.declare`) so that caches can tell its episodes apart.
    """
