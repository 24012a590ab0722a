"""Which agent a run uses: a built-in one by name, or a user's (`taugepa.agents.loading`).

`--agent` says `llm`, `oracle`, `null`, `package.module:factory` or an installed agent's
entry-point name; `choose_agent` turns that into an `AgentChoice` (the factory and what the
episode cache keys it by), once per process. The built-ins go through the same interface
as every other agent.
"""

from __future__ import annotations

from taugepa.agents.interface import AgentFactory
from taugepa.agents.loading import AgentChoice, load_agent
from taugepa.episode.builtin_agents import NullAgent, OracleAgent
from taugepa.episode.llm_agent import LLMAgent

BUILTIN_AGENTS: dict[str, AgentFactory] = {"llm": LLMAgent, "oracle": OracleAgent, "null": NullAgent}
AGENT_KINDS = tuple(BUILTIN_AGENTS)  # the built-in agents, in the order --help lists them
# The built-in agents that need no model and never talk before acting (a scripted user plays
# the customer for them, and the compliance monitor does not apply conversation rules).
SCRIPTED_AGENTS = ("oracle", "null")

_BUILTIN_CHOICES = {
    name: AgentChoice(name, factory, "built-in", (name, "builtin"))
    for name, factory in BUILTIN_AGENTS.items()
}


def choose_agent(spec: str) -> AgentChoice:
    """The agent `spec` names; ConfigError with one line if it cannot be found or loaded."""
    builtin = _BUILTIN_CHOICES.get(spec)
    return builtin if builtin is not None else load_agent(spec, AGENT_KINDS)
