"""The benchmark's options as pytest options and ini settings, and their validation into settings.

The options are the rows of `taugepa.episode.options` (tasks, wiki, agent, limits and the
LLM options) and `taugepa.results.gates`, declared once and shared with the `taugepa`
commands, plus the ones only pytest has (`--scores-out`, `--keep-workers`, `--shard`). Every
option can also be set in the ini file (`[pytest]` section, `taugepa_<name>`); the command
line wins. Paths from the ini file are relative to the ini file's folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from taugepa.episode.options import (
    HARNESS_OPTIONS,
    TASK_OPTIONS,
    TaskSelection,
    resolve_harness,
    resolve_tasks,
    resolve_wiki,
)
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.guards.limits import CASES
from taugepa.guards.output_paths import check_output_file
from taugepa.options import LIST, OFF_SWITCH, SWITCH, Lookup, Option, given, resolve_path
from taugepa.results.failure_review import REVIEW_OPTIONS, ReviewSettings, resolve_review
from taugepa.results.gates import GATE_OPTIONS, GateSettings, resolve_gates
from taugepa.tasks.shard import Shard, parse_shard

DEFAULT_SCORES_OUT = "taugepa-scores.json"

PLUGIN_OPTIONS: list[Option] = [
    Option(
        "--scores-out",
        "scores_out",
        f"where to write the scores file (default {DEFAULT_SCORES_OUT} in the current directory)",
    ),
    Option(
        "--keep-workers",
        "keep_workers",
        "with pytest-xdist, run exactly -n workers even when that is more than the CPUs "
        "(by default taugepa runs one per CPU with the same episodes in flight)",
        kind=SWITCH,
    ),
    Option(
        "--shard",
        "shard",
        "run only shard K of N (such as 2/4), one per machine or CI job: tasks are split by their ids, "
        "a task's trials stay together; taugepa merge joins the shards' scores files",
    ),
]
BENCHMARK_OPTIONS: list[Option] = [
    *TASK_OPTIONS,
    *[
        option.variant(help=option.help + "; a conftest.py's pytest_taugepa_make_agent hook overrides it")
        if option.name == "agent"
        else option
        for option in HARNESS_OPTIONS
    ],
    *GATE_OPTIONS,
    *REVIEW_OPTIONS,
    *PLUGIN_OPTIONS,
]


def add_options(parser: pytest.Parser, options: Iterable[Option] = BENCHMARK_OPTIONS) -> None:
    """Each option as a command-line option (dest `taugepa_<name>`) and an ini setting of that name."""
    group = parser.getgroup("taugepa", "taugepa airline benchmark")
    for option in options:
        help_text = option.help.replace("%", "%%")  # argparse %-formats option help (not ini help)
        extras: dict[str, Any] = {"dest": option.ini_name, "default": None, "help": help_text}
        if option.kind in (SWITCH, OFF_SWITCH):
            extras["action"] = "store_true" if option.kind == SWITCH else "store_false"
            default = option.kind == OFF_SWITCH
            ini_help = f"{option.name.replace('_', ' ')}: true or false (default {str(default).lower()})"
            parser.addini(option.ini_name, ini_help, type="bool", default=default)
        else:
            if option.kind == LIST:
                extras["action"] = "append"
            if option.choices:
                extras["choices"] = option.choices
            else:
                extras["metavar"] = option.metavar
            ini_type: Literal["linelist", "string"] = "linelist" if option.kind == LIST else "string"
            parser.addini(
                option.ini_name, option.help, type=ini_type, default=[] if option.kind == LIST else None
            )
        group.addoption(option.flag, **extras)


def ini_lookup(config: pytest.Config) -> Lookup:
    """A `Lookup` over the command line, then the ini file (whose relative paths are relative to it)."""

    def lookup(name: str) -> tuple[Any, Path | None]:
        ini = "taugepa_" + name
        value = config.getoption(ini)
        if value is not None:
            return value, None
        base = config.inipath.parent if config.inipath else config.rootpath
        value = config.getini(ini)
        return (value if value not in ("", []) else None), base

    return lookup


@dataclass(frozen=True)
class BenchmarkSettings:
    """Validated options for one benchmark session: the harness, its wiki, tasks, output and gates."""

    harness: HarnessSettings
    wiki_path: Path
    wiki_text: str
    tasks: TaskSelection
    scores_out: Path
    gates: GateSettings = GateSettings()
    review: ReviewSettings | None = None  # --review-model: a second opinion on simulator blame
    shard: Shard | None = None  # --shard K/N: this process runs only the tasks of shard K

    @property
    def wiki_sha256(self) -> str:
        return hashlib.sha256(self.wiki_text.encode()).hexdigest()

    def with_concurrency(self, concurrency: int) -> BenchmarkSettings:
        return dataclasses.replace(self, harness=self.harness.replace(concurrency=concurrency))


def resolve_settings(config: pytest.Config, *, agent: str | None = None) -> BenchmarkSettings:
    """Turn options into settings; any problem is a ConfigError with one clear line.

    `agent`: the agent a conftest.py's hook chose (it wins over --agent)."""
    lookup = ini_lookup(config)
    if agent is not None:
        options = lookup
        lookup = lambda name: (agent, None) if name == "agent" else options(name)  # noqa: E731
    scores_value, base = lookup("scores_out")
    # the default goes where the user ran pytest (as --html does), not to the rootdir
    default_out = config.invocation_params.dir / DEFAULT_SCORES_OUT
    scores_out = resolve_path(scores_value, base) if scores_value else default_out
    check_output_file(scores_out, "--scores-out")  # before any episode, not after all of them
    wiki_path, wiki_text = resolve_wiki(lookup)
    harness, gates = resolve_harness(lookup), resolve_gates(lookup)
    if gates.baseline is not None:  # a baseline of another protocol is not a baseline
        from taugepa.results.protocols import require_same_protocol

        require_same_protocol(
            [
                (f"--baseline {gates.baseline.path}", gates.baseline.run),
                ("this run", {"protocol": harness.protocol_info()}),
            ],
            "--baseline",
        )
    return BenchmarkSettings(
        harness=harness,
        wiki_path=wiki_path,
        wiki_text=wiki_text,
        tasks=resolve_tasks(lookup),
        scores_out=scores_out,
        gates=gates,
        review=resolve_review(lookup),
        shard=parse_shard(str(shard_value)) if (shard_value := given(lookup, "shard")) else None,
    )


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
