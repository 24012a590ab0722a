"""Bring your own agent: the interface a team's agent implements, and how a run finds it.

An agent factory takes an `AgentContext` (built once per episode) and returns an object whose
`act(messages)` answers each turn with a `Reply` (text and/or `ToolCall`s). Choose it with
`--agent package.module:factory`, by the name of an installed entry point in the
`taugepa.agents` group, or from a conftest.py's `pytest_taugepa_make_agent` hook. The
built-in `llm`, `oracle` and `null` agents are written against the same interface. See
docs/agents.md.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "Agent": "taugepa.agents.interface",
    "AgentAnswer": "taugepa.agents.interface",
    "AgentContext": "taugepa.agents.interface",
    "AgentFactory": "taugepa.agents.interface",
    "Reply": "taugepa.agents.interface",
    "ToolCall": "taugepa.agents.interface",
    "declare": "taugepa.agents.interface",
    "declared_identity": "taugepa.agents.interface",
    "AgentChoice": "taugepa.agents.loading",
    "ENTRY_POINT_GROUP": "taugepa.agents.loading",
    "installed_agents": "taugepa.agents.loading",
    "load_agent": "taugepa.agents.loading",
    "register_agent": "taugepa.agents.loading",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
