"""One settings spine: options declared once, the same settings through pytest, argparse and back.

The optimizer's pytest evaluator turns harness settings into a command line
(`harness_arguments`); reading that command line back, through the `taugepa` commands'
argparse rendering or through pytest's, must give the same settings, or the optimizer and
CI would measure different things.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from pytest_taugepa.options import BENCHMARK_OPTIONS, ini_lookup
from taugepa.cli import build_parser
from taugepa.episode.fewshot import Demonstration, fewshot_document
from taugepa.episode.options import HARNESS_OPTIONS, harness_arguments, resolve_harness
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.llm.config import LLMConfig
from taugepa.options import OFF_SWITCH, SWITCH, add_arguments, args_lookup

pytest_plugins = ["pytester"]

LLM = LLMConfig(
    agent_model="agent-x",
    user_model="user-y",
    base_url="http://127.0.0.1:9/v1",
    user_base_url="http://127.0.0.1:10/v1",
    api_key_env="AGENT_KEY",
    user_api_key_env="USER_KEY",
    temperature=None,
    seed=7,
    timeout=33.5,
    max_retries=2,
    cache=False,
    prices=(("agent-x", 1.5, 2.0), ("user-y", 0.25, 1.0)),
)
SETTINGS = [
    HarnessSettings(agent="oracle"),
    HarnessSettings(agent="null", trials=3, max_steps=5, think_tool=False),
    HarnessSettings(agent="llm", llm=LLM, trials=2, concurrency=16, max_cost=4.0, protocol="taugepa"),
    HarnessSettings(
        agent="llm",
        llm=dataclasses.replace(LLM, cache=True, cache_dir="/tmp/somewhere", temperature=0.5, seed=None),
        tool_descriptions=(("cancel_reservation", "Cancel it, but read the policy first."),),
    ),
    HarnessSettings(
        agent="null",
        fewshot=(Demonstration("gen-001", "Customer: add a bag\nAgent calls update_reservation_baggages"),),
    ),
]


def _comparable(settings: HarnessSettings) -> HarnessSettings:
    # the evaluator writes its own files
    return settings.replace(tool_descriptions_path=None, fewshot_path=None)


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.agent + str(s.trials))
def test_the_evaluator_command_line_reads_back_as_the_same_settings(settings, tmp_path):
    arguments = harness_arguments(settings, tmp_path)
    parser = argparse.ArgumentParser()
    add_arguments(parser, HARNESS_OPTIONS)
    back = resolve_harness(args_lookup(parser.parse_args(arguments)))
    assert _comparable(back) == _comparable(settings)


@pytest.mark.parametrize("settings", [*SETTINGS[1:3], SETTINGS[4]], ids=["null", "llm", "fewshot"])
def test_pytest_reads_the_same_command_line_as_the_same_settings(settings, tmp_path, pytester):
    arguments = harness_arguments(settings, tmp_path)
    config = pytester.parseconfig(*arguments)
    assert _comparable(resolve_harness(ini_lookup(config))) == _comparable(settings)


def test_an_ini_file_sets_the_same_settings_with_paths_relative_to_it(pytester):
    (pytester.path / "policies").mkdir()
    (pytester.path / "policies" / "tools.json").write_text('{"get_user_details": "Look the user up."}')
    pytester.makeini(
        "[pytest]\n"
        "taugepa_agent = null\n"
        "taugepa_trials = 2\n"
        "taugepa_think_tool = false\n"
        "taugepa_tool_descriptions = policies/tools.json\n"
        "taugepa_fewshot = policies/fewshot.json\n"
    )
    (pytester.path / "policies" / "fewshot.json").write_text(
        json.dumps(fewshot_document((Demonstration("gen-002", "Customer: hello"),)))
    )
    config = pytester.parseconfig("--max-steps", "9")  # the command line and the ini file together
    settings = resolve_harness(ini_lookup(config))
    assert (settings.agent, settings.trials, settings.max_steps, settings.think_tool) == ("null", 2, 9, False)
    assert settings.tool_descriptions == (("get_user_details", "Look the user up."),)
    assert Path(settings.tool_descriptions_path) == pytester.path / "policies" / "tools.json"
    assert settings.fewshot == (Demonstration("gen-002", "Customer: hello"),)
    assert settings.describe()["fewshot"]["sources"] == ["gen-002"]
    assert "fewshot_sha256" in settings.fingerprint()
    assert "fewshot_sha256" not in settings.replace(fewshot=None).fingerprint()  # earlier keys stay


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--agent", "null", "--trials", "0"], "--trials must be at least 1"),
        (["--max-steps", "many"], "--max-steps expects a whole number"),
        (["--agent", "llm"], "--agent llm needs a model"),
        (["--agent", "oracle", "--concurrency", "0"], "--concurrency must be at least 1"),
    ],
)
def test_both_front_ends_refuse_bad_values_with_the_same_line(arguments, message, pytester):
    parser = argparse.ArgumentParser()
    add_arguments(parser, HARNESS_OPTIONS)
    with pytest.raises(ConfigError) as from_argparse:
        resolve_harness(args_lookup(parser.parse_args(arguments)))
    with pytest.raises(ConfigError) as from_pytest:
        resolve_harness(ini_lookup(pytester.parseconfig(*arguments)))
    assert message in str(from_argparse.value)
    assert str(from_argparse.value) == str(from_pytest.value)


def _subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def test_a_flag_the_commands_share_with_pytest_is_the_same_option():
    """Same flag, same settings name and same kind wherever it appears: declared once, not twice."""
    rows = {option.flag: option for option in BENCHMARK_OPTIONS}
    shared = 0
    for command, parser in _subcommand_parsers().items():
        for action in parser._actions:
            for flag in action.option_strings:
                row = rows.get(flag)
                if row is None or (command, flag) in {("compare", "--seed"), ("optimize", "--seed")}:
                    continue  # their --seed also seeds the split/bootstrap: the LLM row is left out there
                shared += 1
                assert action.dest == row.name, (command, flag)
                store = {SWITCH: "_StoreTrueAction", OFF_SWITCH: "_StoreFalseAction"}
                if row.kind in store:
                    assert type(action).__name__ == store[row.kind], (command, flag)
    assert shared > 40  # compare, optimize, audit, rescore, llm-check... take their rows from the tables
