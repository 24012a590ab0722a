"""The benchmark's command-line and ini options, and their validation into settings.

Every option can also be set in the ini file (`[pytest]` section, `taugepa_<name>`);
the command line wins. Paths from the ini file are relative to the ini file's folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_taugepa.llm_options import add_llm_options, resolve_llm_options
from taugepa.episode.run import AGENT_KINDS, DEFAULT_MAX_STEPS
from taugepa.errors import ConfigError
from taugepa.guards.limits import CASES, MAX_STEPS, TRIALS, check_range
from taugepa.guards.output_paths import check_output_file
from taugepa.llm.config import LLMConfig
from taugepa.results.gates import parse_rate
from taugepa.results.scores import Scores, load_scores
from taugepa.rules.audit import FILTERS
from taugepa.tasks.loading import DEFAULT_TASK_SET
from taugepa.world.engine import DEFAULT_POLICY_PATH
from taugepa.world.policy import read_wiki
from taugepa.world.tool_descriptions import as_pairs, describe_tool_descriptions, load_tool_descriptions

DEFAULT_TASKS = (DEFAULT_TASK_SET,)
DEFAULT_SCORES_OUT = "taugepa-scores.json"

# (flag, ini name, help, argparse extras)
_OPTIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "--tasks",
        "taugepa_tasks",
        "task file, glob or built-in set (repeatable; NAME=PATH names the set). "
        f"Default: {', '.join(DEFAULT_TASKS)}",
        {"action": "append"},
    ),
    ("--wiki", "taugepa_wiki", "policy text given to the agent. Default: tau2's airline policy", {}),
    (
        "--agent",
        "taugepa_agent",
        "who plays the agent: llm (default), oracle (gold actions) or null",
        {"choices": AGENT_KINDS},
    ),
    ("--trials", "taugepa_trials", "episodes per task (default 1)", {}),
    ("--max-steps", "taugepa_max_steps", f"agent steps per episode (default {DEFAULT_MAX_STEPS})", {}),
    (
        "--scores-out",
        "taugepa_scores_out",
        f"where to write the scores file (default {DEFAULT_SCORES_OUT} in the current directory)",
        {},
    ),
    ("--min-pass-rate", "taugepa_min_pass_rate", "fail the run below this pass rate (0.8 or 80%)", {}),
    ("--baseline", "taugepa_baseline", "scores file to compare against for --max-regression", {}),
    (
        "--audit",
        "taugepa_audit",
        "audit file from `taugepa audit` giving each task's audit status (default: audit against --wiki)",
        {},
    ),
    (
        "--task-filter",
        "taugepa_task_filter",
        "run only tasks of this audit status: all (default), clean, compliant, flagged, violates, free-pass",
        {},
    ),
    (
        "--tool-descriptions",
        "taugepa_tool_descriptions",
        "JSON file {tool: description} replacing the tools' descriptions the agent sees "
        "(e.g. best_tool_descriptions.json from taugepa optimize)",
        {},
    ),
    (
        "--max-regression",
        "taugepa_max_regression",
        "with --baseline: fail if the pass rate drops more than this below it (default 0)",
        {},
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("taugepa", "taugepa airline benchmark")
    for flag, ini, help_text, extras in _OPTIONS:
        # argparse %-formats option help (not ini help): a literal % must be doubled
        escaped = help_text.replace("%", "%%")
        group.addoption(flag, dest=ini, default=None, help=escaped, **_metavar(flag, extras))
        ini_type = "linelist" if extras.get("action") == "append" else "string"
        parser.addini(ini, help_text, type=ini_type, default=[] if ini_type == "linelist" else None)
    group.addoption(
        "--no-think-tool",
        dest="taugepa_no_think_tool",
        action="store_true",
        default=None,
        help="do not offer tau-bench v1's no-op `think` tool to the agent",
    )
    parser.addini("taugepa_think_tool", "offer the `think` tool (default true)", type="bool", default=True)
    group.addoption(
        "--keep-workers",
        dest="taugepa_keep_workers",
        action="store_true",
        default=False,
        help="with pytest-xdist, run exactly -n workers even when that is more than the CPUs "
        "(by default taugepa runs one per CPU with the same episodes in flight)",
    )
    parser.addini(
        "taugepa_keep_workers", "run exactly -n xdist workers (default false)", type="bool", default=False
    )
    add_llm_options(group, parser)


def _metavar(flag: str, extras: dict[str, Any]) -> dict[str, Any]:
    """`--min-pass-rate=MIN_PASS_RATE` in --help rather than the ini-style dest name."""
    if "choices" in extras or "metavar" in extras:
        return extras
    return {**extras, "metavar": flag[2:].upper().replace("-", "_")}


@dataclass(frozen=True)
class BenchmarkSettings:
    """Validated options for one benchmark session."""

    task_specs: tuple[str, ...]
    wiki_path: Path
    wiki_text: str
    agent: str
    trials: int
    max_steps: int
    think_tool: bool
    scores_out: Path
    min_pass_rate: float | None
    baseline: Scores | None
    max_regression: float
    audit_path: Path | None = None
    task_filter: str = "all"
    llm: LLMConfig | None = None  # models and endpoints, with --agent llm
    concurrency: int = 1  # episodes in flight per process
    max_cost: float | None = None
    tool_descriptions: tuple[tuple[str, str], ...] | None = None  # sorted (tool, description) pairs
    tool_descriptions_path: Path | None = None

    @property
    def wiki_sha256(self) -> str:
        return hashlib.sha256(self.wiki_text.encode()).hexdigest()

    @property
    def models(self) -> dict[str, str | None]:
        llm = self.llm
        return {"agent": llm.agent_model if llm else None, "user": llm.user_model if llm else None}

    @property
    def run_extra(self) -> dict[str, Any]:
        """What the scores file's `run` section records beyond the core settings."""
        extra: dict[str, Any] = {"concurrency": self.concurrency, "max_cost": self.max_cost}
        if self.llm:
            extra["llm"] = self.llm.describe()
        if self.tool_descriptions:
            extra["tool_descriptions"] = describe_tool_descriptions(
                dict(self.tool_descriptions), str(self.tool_descriptions_path)
            )
        return extra


def _get(config: pytest.Config, ini: str) -> tuple[Any, Path | None]:
    """The option's value and the folder its relative paths are relative to (None: as given)."""
    value = config.getoption(ini)
    if value is not None:
        return value, None
    base = config.inipath.parent if config.inipath else config.rootpath
    value = config.getini(ini)
    return (value if value not in ("", []) else None), base


def _path(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if base is None or path.is_absolute() else base / path


def _positive_int(value: Any, flag: str, default: int, limit: tuple[float, str]) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag} expects a whole number, got {str(value)[:40]!r}") from None
    check_range(flag, number, 1, limit)
    return number


def resolve_settings(config: pytest.Config) -> BenchmarkSettings:
    """Turn options into settings; any problem is a ConfigError with one clear line."""
    specs, base = _get(config, "taugepa_tasks")
    task_specs = tuple(_task_spec(s, base) for s in specs) if specs else DEFAULT_TASKS
    wiki_value, base = _get(config, "taugepa_wiki")
    wiki_path = _path(wiki_value, base) if wiki_value else DEFAULT_POLICY_PATH
    agent, _ = _get(config, "taugepa_agent")
    agent = agent or "llm"
    if agent not in AGENT_KINDS:
        raise ConfigError(f"unknown agent {agent!r}: choose one of {', '.join(AGENT_KINDS)}")
    trials = _positive_int(_get(config, "taugepa_trials")[0], "--trials", 1, TRIALS)
    max_steps = _positive_int(
        _get(config, "taugepa_max_steps")[0], "--max-steps", DEFAULT_MAX_STEPS, MAX_STEPS
    )
    scores_value, base = _get(config, "taugepa_scores_out")
    # the default goes where the user ran pytest (as --html does), not to the rootdir
    default_out = config.invocation_params.dir / DEFAULT_SCORES_OUT
    scores_out = _path(scores_value, base) if scores_value else default_out
    check_output_file(scores_out, "--scores-out")  # before any episode, not after all of them
    try:
        rate_value = _get(config, "taugepa_min_pass_rate")[0]
        min_pass_rate = parse_rate(rate_value, "--min-pass-rate") if rate_value else None
        regression_value = _get(config, "taugepa_max_regression")[0]
        max_regression = parse_rate(regression_value, "--max-regression") if regression_value else 0.0
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    baseline_value, base = _get(config, "taugepa_baseline")
    baseline = load_scores(_path(baseline_value, base)) if baseline_value else None
    if regression_value and baseline is None:
        raise ConfigError("--max-regression needs --baseline SCORES.json to compare against")
    audit_value, base = _get(config, "taugepa_audit")
    audit_path = _path(audit_value, base) if audit_value else None
    task_filter = _get(config, "taugepa_task_filter")[0] or "all"
    if task_filter not in FILTERS:
        raise ConfigError(f"unknown --task-filter {task_filter!r}: choose one of {', '.join(FILTERS)}")
    think_flag = config.getoption("taugepa_no_think_tool")
    think_tool = not think_flag if think_flag is not None else bool(config.getini("taugepa_think_tool"))
    llm_settings = resolve_llm_options(lambda ini: _get(config, ini), config, agent)
    descriptions_value, base = _get(config, "taugepa_tool_descriptions")
    descriptions_path = _path(descriptions_value, base) if descriptions_value else None
    descriptions = load_tool_descriptions(descriptions_path) if descriptions_path else None
    return BenchmarkSettings(
        task_specs=task_specs,
        wiki_path=wiki_path,
        wiki_text=read_wiki(wiki_path),
        agent=agent,
        trials=trials,
        max_steps=max_steps,
        think_tool=think_tool,
        scores_out=scores_out,
        min_pass_rate=min_pass_rate,
        baseline=baseline,
        max_regression=max_regression,
        audit_path=audit_path,
        task_filter=task_filter,
        llm=llm_settings.llm,
        concurrency=llm_settings.concurrency,
        max_cost=llm_settings.max_cost,
        tool_descriptions=as_pairs(descriptions),
        tool_descriptions_path=descriptions_path,
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


def check_case_count(tasks: int, trials: int) -> None:
    """Refuse more test cases (tasks x trials) than a machine can hold, before building them."""
    maximum, why = CASES
    if tasks * trials > maximum:
        raise ConfigError(
            f"{tasks:,} tasks x {trials:,} trials would make {tasks * trials:,} test cases, more than "
            f"{maximum:,} ({why}): run fewer trials or split the task files"
        )


def check_html_output(config: pytest.Config) -> None:
    """pytest-html's `--html PATH` is checked like --scores-out, before any episode."""
    html = getattr(config.option, "htmlpath", None)
    if html:
        check_output_file(Path(html).expanduser(), "--html")
