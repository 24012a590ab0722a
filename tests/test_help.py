"""Help must work before anything is set up: no key, no model, in any project of the venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.cli import build_parser
from taugepa.commands import COMMANDS

REPO = Path(__file__).resolve().parent.parent


def pytest_help(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    command = [sys.executable, "-m", "pytest", *args, "--help", "-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("suite", [False, True], ids=["any-project", "benchmarks"])
def test_pytest_help_lists_the_taugepa_options_without_key_or_model(tmp_path, suite):
    """`pytest --help` (the plugin is installed for every project of the venv) and
    `pytest benchmarks --help` (whose conftest starts the benchmark) both show the options."""
    run = pytest_help(tmp_path, *([str(REPO / "benchmarks")] if suite else []))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-2000:]
    assert "Traceback (most recent call last)" not in output and not run.stderr.strip()
    assert "taugepa airline benchmark:" in run.stdout
    for flag in ("--tasks=TASKS", "--min-pass-rate=MIN_PASS_RATE", "--agent-model=AGENT_MODEL", "--max-cost"):
        assert flag in run.stdout
    assert "(0.8 or 80%)" in run.stdout  # the % that used to crash argparse


@pytest.mark.parametrize("command", COMMANDS)
def test_every_taugepa_command_has_help(command, capsys):
    name = command.replace("_", "-")
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([name, "--help"])
    assert exited.value.code == 0
    assert f"usage: taugepa {name}" in capsys.readouterr().out
