"""The harness options, declared once: which tasks, which wiki, who plays the agent, the limits.

Rows of `taugepa.options.Option`, rendered into pytest (`pytest_taugepa.options`) and into
the `taugepa` commands (`taugepa.options.add_arguments`); validated here into the settings
spine (`HarnessSettings`) with the LLM options of `taugepa.llm.settings`. The optimizer's
pytest evaluator turns settings back into a command line with `harness_arguments`, and a
test checks that the round trip gives the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taugepa.episode.agent_choice import SCRIPTED_AGENTS, choose_agent
from taugepa.episode.fewshot import fewshot_document, load_fewshot
from taugepa.episode.settings import (
    DEFAULT_MAX_STEPS,
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    TAU2_MAX_STEPS,
    HarnessSettings,
    default_max_steps,
)
from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.guards.limits import MAX_STEPS, TRIALS
from taugepa.llm.settings import LLM_OPTIONS, llm_arguments, resolve_llm_settings
from taugepa.options import (
    LIST,
    OFF_SWITCH,
    Lookup,
    Option,
    choice,
    given,
    resolve_path,
    switch,
    whole_number,
)
from taugepa.tasks.loading import DEFAULT_TASK_SET

HARNESS_OPTIONS: list[Option] = [
    Option(
        "--agent",
        "agent",
        "who plays the agent: llm (default), oracle (gold actions), null, the name of an installed agent "
        "(entry point group taugepa.agents), or your own as package.module:factory (see docs/agents.md)",
    ),
    Option(
        "--protocol",
        "protocol",
        "conversation protocol: tau2 (default; every request as tau2's own orchestrator sends it: "
        "its prompts, greeting, tools, stop rules and limits) or taugepa (taugepa's own: the wiki "
        "alone as system prompt, the think tool)",
        choices=PROTOCOLS,
    ),
    Option("--wiki", "wiki", "policy text given to the agent. Default: tau2's airline policy"),
    Option(
        "--tool-descriptions",
        "tool_descriptions",
        "JSON file {tool: description} replacing the tools' descriptions the agent sees "
        "(e.g. best_tool_descriptions.json from taugepa optimize)",
    ),
    Option(
        "--fewshot",
        "fewshot",
        "JSON file of worked example conversations placed after the wiki in the agent's system prompt "
        "(e.g. best_fewshot.json from taugepa optimize; see taugepa.episode.fewshot)",
    ),
    Option("--trials", "trials", "episodes per task (default 1)"),
    Option(
        "--max-steps",
        "max_steps",
        f"step limit per episode (default: {TAU2_MAX_STEPS} steps as tau2 counts them, every message; "
        f"{DEFAULT_MAX_STEPS} agent steps under --protocol taugepa)",
    ),
    Option(
        "--no-think-tool",
        "think_tool",
        "do not offer tau-bench v1's no-op `think` tool to the agent",
        kind=OFF_SWITCH,
    ),
    *LLM_OPTIONS,
]

TASK_OPTIONS: list[Option] = [
    Option(
        "--tasks",
        "tasks",
        f"task file, glob or built-in set (repeatable; NAME=PATH names the set). Default: {DEFAULT_TASK_SET}",
        kind=LIST,
    ),
    Option(
        "--task-filter",
        "task_filter",
        "run only tasks of this audit status: all (default), clean, compliant, flagged, violates, free-pass",
    ),
    Option(
        "--audit",
        "audit",
        "audit file from `taugepa audit` giving each task's audit status (default: audit against --wiki)",
    ),
]


@dataclass(frozen=True)
class TaskSelection:
    """Which tasks a run takes: the task specs, and the audit status it keeps."""

    specs: tuple[str, ...]
    task_filter: str = "all"
    audit_path: Path | None = None


def resolve_harness(lookup: Lookup) -> HarnessSettings:
    """Validate the harness options (and the LLM ones) into settings; ConfigError with one line."""
    agent = str(given(lookup, "agent") or "llm")
    choose_agent(agent)  # an agent that cannot be found or loaded: one line, before anything else
    trials = whole_number(given(lookup, "trials"), "--trials", 1, 1, TRIALS)
    protocol = choice(given(lookup, "protocol"), "--protocol", PROTOCOLS, default=DEFAULT_PROTOCOL)
    max_steps = whole_number(
        given(lookup, "max_steps"), "--max-steps", default_max_steps(protocol), 1, MAX_STEPS
    )
    llm = resolve_llm_settings(lookup, agent, models_optional=agent not in SCRIPTED_AGENTS)
    descriptions_value, base = lookup("tool_descriptions")
    descriptions_path = resolve_path(descriptions_value, base) if descriptions_value else None
    descriptions = None
    if descriptions_path is not None:
        from taugepa.world.tool_descriptions import as_pairs, load_tool_descriptions

        descriptions = as_pairs(load_tool_descriptions(descriptions_path))
    fewshot_value, fewshot_base = lookup("fewshot")
    fewshot_path = resolve_path(fewshot_value, fewshot_base) if fewshot_value else None
    fewshot = load_fewshot(fewshot_path) if fewshot_path is not None else None
    return HarnessSettings(
        agent=agent,
        protocol=protocol,
        max_steps=max_steps,
        think_tool=switch(lookup("think_tool")[0], default=True),
        llm=llm.llm,
        tool_descriptions=descriptions,
        tool_descriptions_path=str(descriptions_path) if descriptions_path else None,
        fewshot=fewshot,
        fewshot_path=str(fewshot_path) if fewshot_path else None,
        trials=trials,
        concurrency=llm.concurrency,
        max_cost=llm.max_cost,
    )


def resolve_wiki(lookup: Lookup) -> tuple[Path, str]:
    """The wiki's path and text (tau2's airline policy when --wiki is not given)."""
    from taugepa.world.engine import DEFAULT_POLICY_PATH
    from taugepa.world.policy import read_wiki

    value, base = lookup("wiki")
    path = resolve_path(value, base) if value else DEFAULT_POLICY_PATH
    return path, read_wiki(path)


def resolve_tasks(
    lookup: Lookup, *, default_filter: str = "all", filters: tuple[str, ...] | None = None
) -> TaskSelection:
    """The task specs (relative paths against the ini folder), the task filter and the audit file.

    `filters`: the audit statuses this front end offers (default: all of them).
    """
    from taugepa.rules.audit import FILTERS

    filters = tuple(filters or FILTERS)
    specs, base = lookup("tasks")
    task_filter = given(lookup, "task_filter") or default_filter
    if task_filter not in filters:
        raise ConfigError(f"unknown --task-filter {task_filter!r}: choose one of {', '.join(filters)}")
    audit_value, audit_base = lookup("audit")
    return TaskSelection(
        specs=tuple(_task_spec(spec, base) for spec in specs) if specs else (DEFAULT_TASK_SET,),
        task_filter=task_filter,
        audit_path=resolve_path(audit_value, audit_base) if audit_value else None,
    )


def _task_spec(spec: str, base: Path | None) -> str:
    """Resolve an ini file's relative task path against the ini folder (keeping `NAME=`)."""
    from taugepa.tasks.loading import builtin_task_sets

    if base is None:
        return spec
    name, sep, target = spec.partition("=")
    if not sep or "/" in name or "\\" in name:
        name, sep, target = "", "", spec
    if target in builtin_task_sets() or Path(target).is_absolute():
        return spec
    resolved = str(base / target)
    return f"{name}={resolved}" if sep else resolved


def harness_arguments(settings: HarnessSettings, folder: Path) -> list[str]:
    """The command line that means `settings` (files it needs are written to `folder`).

    What the optimizer's pytest evaluator passes to `pytest benchmarks`; the wiki and the
    tasks are the caller's.
    """
    arguments = [
        "--agent",
        settings.agent,
        "--protocol",
        settings.protocol,
        "--trials",
        str(settings.trials),
        "--max-steps",
        str(settings.max_steps),
        "--concurrency",
        str(settings.concurrency),
    ]
    if not settings.think_tool:
        arguments.append("--no-think-tool")
    if settings.tool_descriptions:
        path = folder / "tool_descriptions.json"
        write_json_atomically(path, dict(settings.tool_descriptions))
        arguments += ["--tool-descriptions", str(path)]
    if settings.fewshot:
        path = folder / "fewshot.json"
        write_json_atomically(path, fewshot_document(settings.fewshot))
        arguments += ["--fewshot", str(path)]
    if settings.max_cost is not None:
        arguments += ["--max-cost", repr(settings.max_cost)]
    return arguments + llm_arguments(settings.llm, folder)
