"""The benchmark suite ships in the package: `pytest --pyargs taugepa.benchmarks` from any folder
runs what `pytest benchmarks` runs from a clone, and the optimizer's pytest evaluator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_taugepa.plugin import _names_suite
from taugepa.benchmarks import SUITE_DIR
from taugepa.optimize.evaluators import default_benchmarks_dir

REPO = Path(__file__).resolve().parent.parent


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def without_timing(document: dict) -> dict:
    document = {k: v for k, v in document.items() if k != "timing"}
    document["episodes"] = [{k: v for k, v in e.items() if k != "duration_s"} for e in document["episodes"]]
    return document


def test_pyargs_from_an_empty_folder_runs_what_the_clone_folder_runs(tmp_path):
    empty, clone = tmp_path / "empty", tmp_path / "clone"
    empty.mkdir(), clone.mkdir()
    common = ["--agent", "oracle", "--tasks", "tau2-airline", "--scores-out", "scores.json"]
    packaged = pytest_run(empty, "--pyargs", "taugepa.benchmarks", *common, "-n", "2")
    folder = pytest_run(clone, str(REPO / "benchmarks"), *common)
    for run in (packaged, folder):
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr
        assert "50 passed" in run.stdout and run.stdout.count("taugepa verdict") == 1
    assert sorted(p.name for p in empty.iterdir()) == ["scores.json"]
    scores = [json.loads((d / "scores.json").read_text()) for d in (empty, clone)]
    assert without_timing(scores[0]) == without_timing(scores[1])


def test_pyargs_takes_a_node_id_of_the_packaged_suite(tmp_path):
    node = "taugepa.benchmarks.test_airline::test_task[tau2-3]"
    run = pytest_run(tmp_path, "--pyargs", node, "--agent", "oracle", "--tasks", "tau2-airline")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "1 passed" in run.stdout and "pass rate 100.0% (1 passed, 0 failed)" in run.stdout


def test_only_the_suite_named_under_pyargs_starts_the_benchmark():
    assert _names_suite("taugepa.benchmarks") and _names_suite("taugepa.benchmarks.test_airline::test_task")
    assert not _names_suite("taugepa.benchmarksx") and not _names_suite("taugepa")


def test_the_optimizer_runs_the_packaged_suite():
    assert default_benchmarks_dir() == SUITE_DIR == REPO / "taugepa" / "benchmarks"
    assert (SUITE_DIR / "conftest.py").is_file() and (SUITE_DIR / "test_airline.py").is_file()


def test_the_readme_pip_command_installs_the_package_and_runs_the_packaged_suite():
    readme = (REPO / "README.md").read_text().splitlines()
    line = readme[readme.index("<!-- pip-command -->") + 2]
    prefix = "python3 -m venv .venv && . .venv/bin/activate && pip install taugepa && "
    assert line.startswith(prefix) and "/" not in line.removeprefix(prefix)  # no path into a clone
    assert line.removeprefix(prefix).startswith("pytest --pyargs taugepa.benchmarks --agent oracle")


def test_a_conftest_in_the_folder_pytest_runs_from_applies_to_the_packaged_suite(tmp_path):
    """The hook route for one's own agent works without a suite folder: pytest loads the conftest.py
    of the invocation folder, in each xdist worker too."""
    (tmp_path / "conftest.py").write_text(
        "from taugepa.agents import Reply\n\n\n"
        "class Quiet:\n"
        "    def __init__(self, context):\n"
        "        self.context = context\n\n"
        "    def act(self, messages):\n"
        "        return Reply(text='I cannot help with that.')\n\n\n"
        "def pytest_taugepa_make_agent(config):\n"
        "    return Quiet\n"
    )
    nodes = [f"taugepa.benchmarks.test_airline::test_task[tau2-{i}]" for i in (1, 2)]
    args = ["--pyargs", *nodes, "--tasks", "tau2-airline", "-n", "2"]
    run = pytest_run(tmp_path, *args, "--scores-out", "scores.json")
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["run"]["agent"] == "hook:Quiet", run.stdout[-2000:] + run.stderr
    assert [e["task_id"] for e in scores["episodes"]] == ["tau2-1", "tau2-2"]
    assert scores["summary"]["counts"]["failed"] >= 1  # the oracle, the default agent, passes both
