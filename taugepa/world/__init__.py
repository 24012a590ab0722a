"""The airline world: tau2's airline domain behind one engine, its facts, and the policy text.

`get_world()` parses the database once per process; `AirlineWorld.new_engine()` hands each
episode a cheap copy-on-write view with the airline tools, a bounded calculator and a digest
that equals tau2's database hash exactly when the databases are equal.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "get_world": "taugepa.world.engine",
    "AirlineWorld": "taugepa.world.engine",
    "Engine": "taugepa.world.engine",
    "ToolCallError": "taugepa.world.engine",
    "engine_info": "taugepa.world.engine",
    "tool_names": "taugepa.world.engine",
    "write_tool_names": "taugepa.world.engine",
    "DEFAULT_POLICY_PATH": "taugepa.world.engine",
    "TRANSFER_TOOL": "taugepa.world.engine",
    "Policy": "taugepa.world.policy",
    "load_policy": "taugepa.world.policy",
    "split_sections": "taugepa.world.policy_sections",
    "join_sections": "taugepa.world.policy_sections",
    "load_tool_descriptions": "taugepa.world.tool_descriptions",
    "default_tool_descriptions": "taugepa.world.tool_descriptions",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
