"""The end of a benchmark session skips what would only cost time (see pytest_taugepa.session_end)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = """
import json, os, sys
import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(os.environ["END_PROBE_OUT"], "w") as handle:
        json.dump({"hypothesis_imported": "hypothesis" in sys.modules}, handle)
"""


def run_with_hypothesis_plugin(
    tmp_path: Path, tasks: Path, *args: str
) -> tuple[subprocess.CompletedProcess, dict]:
    """A benchmark run in an environment that has hypothesis installed (its plugin loads)."""
    (tmp_path / "end_probe.py").write_text(PROBE)
    env = {
        **os.environ,
        "PYTEST_ADDOPTS": "",  # the test suite turns hypothesis's plugin off for child runs; not here
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "END_PROBE_OUT": str(tmp_path / "probe.json"),
    }
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider"]
    command += ["-p", "end_probe", "--agent", "oracle", "-q"]
    command += ["--tasks", str(tasks), "-k", "test-00 or test-01"]
    command += ["--scores-out", str(tmp_path / "scores.json"), *args]
    ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False, env=env)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    return ran, json.loads((tmp_path / "probe.json").read_text())


def test_hypothesis_is_not_imported_to_summarize_a_session_without_hypothesis_tests(tmp_path, v1_tasks_file):
    ran, probe = run_with_hypothesis_plugin(tmp_path, v1_tasks_file)
    assert "2 passed" in ran.stdout
    assert probe == {"hypothesis_imported": False}


def test_hypothesis_statistics_asked_for_are_still_printed(tmp_path, v1_tasks_file):
    ran, probe = run_with_hypothesis_plugin(tmp_path, v1_tasks_file, "--hypothesis-show-statistics")
    assert "Hypothesis Statistics" in ran.stdout
    assert probe == {"hypothesis_imported": True}
