"""The two example agents in examples/, against the scripted OpenAI-compatible server.

`plan_and_act` (a hand-written loop around the openai client) is chosen by import path and
optimized by `taugepa optimize --agent ...`; `langchain_agent` (LangChain, installed in the
test extra) is found through the entry point its pyproject.toml declares, under pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from taugepa.agents import loading as agent_loading
from taugepa.benchmarks import SUITE_DIR
from taugepa.cli import main
from taugepa.episode.runner import run_tasks
from taugepa.episode.settings import HarnessSettings
from taugepa.protocol import PASSED
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, scripted_llm_config
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL, WIKI_AGENT_MODEL
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import DEFAULT_POLICY_PATH

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
KEY_ENV, KEY = "TAUGEPA_TEST_EXAMPLES_KEY", "sk-test-examples-7c1d"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def plan_and_act_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES / "plan_and_act"))
    agent_loading._load.cache_clear()
    yield
    agent_loading._load.cache_clear()


@pytest.fixture(scope="module")
def tau2_tasks():
    return load_tasks([TAU2_AIRLINE]).tasks


def test_plan_and_act_plans_then_acts_and_passes_every_task(plan_and_act_on_path, tau2_tasks):
    tasks = tau2_tasks[:16]
    with ScriptedServer(tasks, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False)
        settings = HarnessSettings(agent="plan_and_act:PlanAndActAgent", llm=llm, concurrency=8)
        run = run_tasks(tasks, DEFAULT_POLICY_PATH.read_text(), settings)
        stats = server.stats()
    outcomes = Counter(result.outcome for _, result in run.episodes)
    assert outcomes == {PASSED: 16}
    # one planning request (no tools) per customer message, besides the acting requests
    said = [
        [m for m in result.messages[:-1] if m["role"] == "user"]  # the user's last word ends it
        for _, result in run.episodes
    ]
    plans = sum(len(messages) for messages in said)
    steps = sum(result.steps for _, result in run.episodes)
    users = sum(1 for _, result in run.episodes for m in result.messages if m["role"] == "user")
    assert stats["by_model"] == {AGENT_MODEL: plans + steps, USER_MODEL: users}
    assert settings.cacheable and settings.fingerprint()["agent"]["name"] == "plan-and-act-example"


def test_optimize_improves_the_wiki_plan_and_act_is_given(plan_and_act_on_path, tmp_path, capsys):
    tasks = load_tasks(["taugepa-airline"]).tasks
    run_dir = tmp_path / "run"
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as server:
        code = main(
            [
                "optimize",
                "--agent",
                "plan_and_act:PlanAndActAgent",
                "--tasks",
                "taugepa-airline",
                "--agent-model",
                WIKI_AGENT_MODEL,
                "--user-model",
                USER_MODEL,
                "--reflection-model",
                REFLECTION_MODEL,
                "--base-url",
                server.base_url,
                "--api-key-env",
                KEY_ENV,
                "--budget",
                "80",
                "--val-size",
                "10",
                "--minibatch-size",
                "3",
                "--train-size",
                "16",
                "--run-dir",
                str(run_dir),
                "--concurrency",
                "8",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    candidates = json.loads((run_dir / "candidates.json").read_text())
    assert candidates["best_score"] > candidates["seed_score"]
    assert "episode cache off" not in out  # the example declares a name and version
    assert list((run_dir / "episodes").glob("*.json"))


def _langchain_entry_point() -> str:
    project = tomllib.loads((EXAMPLES / "langchain_agent" / "pyproject.toml").read_text())
    ((name, value),) = project["project"]["entry-points"]["taugepa.agents"].items()
    assert name == "langchain"
    return value


def test_the_langchain_agent_installed_runs_under_pytest_by_its_entry_point_name(tmp_path, tau2_tasks):
    import langchain_openai  # noqa: F401 - in the test extra: a missing install fails, never skips

    site = tmp_path / "site"  # what `pip install examples/langchain_agent` puts on the path
    info = site / "taugepa_langchain_agent-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: taugepa-langchain-agent\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[taugepa.agents]\nlangchain = {_langchain_entry_point()}\n")
    path = [str(site), str(EXAMPLES / "langchain_agent"), str(REPO)]
    tasks = tau2_tasks[:12]
    with ScriptedServer(tasks, api_key=KEY) as server:
        command = [
            sys.executable,
            "-m",
            "pytest",
            *[f"{SUITE_DIR / 'test_airline.py'}::test_task[{task.id}]" for task in tasks],
            "-p",
            "no:cacheprovider",
            "-q",
            "--agent",
            "langchain",
            "--tasks",
            TAU2_AIRLINE,
            "--task-filter",
            "all",
            "--agent-model",
            AGENT_MODEL,
            "--user-model",
            USER_MODEL,
            "--base-url",
            server.base_url,
            "--api-key-env",
            KEY_ENV,
            "--no-llm-cache",
            "--scores-out",
            str(tmp_path / "scores.json"),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), KEY_ENV: KEY}
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        stats = server.stats()
    assert done.returncode == 0, done.stdout + done.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert Counter(e["outcome"] for e in scores["episodes"]) == {PASSED: 12}
    assert scores["run"]["custom_agent"] == {
        "label": "langchain",
        "route": "entry point",
        "name": "langchain-example",
        "version": "1",
    }
    assert stats["by_model"][AGENT_MODEL] >= 12  # LangChain's ChatOpenAI sent the agent's requests
