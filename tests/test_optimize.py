"""`taugepa optimize` end to end against scripted models over real HTTP.

This is a plumbing test: the scripted agent performs a kind of write only when the wiki has
that kind's rule sentence, and the scripted reflection model adds the sentence the feedback
asks for. It shows that GEPA, the adapter, the harness, the budget, the outputs and resuming
work together, not that a real model would improve.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.errors import ConfigError
from taugepa.optimize.settings import RolloutPlan
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import USER_MODEL, Faults
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL, WIKI_AGENT_MODEL, rule_sentence
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import DEFAULT_POLICY_PATH

KEY_ENV, KEY = "TAUGEPA_TEST_OPT_KEY", "sk-test-optimize-4242"
BUDGET, VAL, MINIBATCH, TRAIN = 120, 10, 3, 24


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(["taugepa-airline"]).tasks


@pytest.fixture
def server(tasks, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as running:
        yield running


def optimize_args(base_url: str, run_dir: Path, *extra: str, budget: int = BUDGET) -> list[str]:
    return [
        "optimize",
        "--tasks",
        "taugepa-airline",
        "--agent-model",
        WIKI_AGENT_MODEL,
        "--user-model",
        USER_MODEL,
        "--reflection-model",
        REFLECTION_MODEL,
        "--base-url",
        base_url,
        "--api-key-env",
        KEY_ENV,
        "--budget",
        str(budget),
        "--val-size",
        str(VAL),
        "--minibatch-size",
        str(MINIBATCH),
        "--train-size",
        str(TRAIN),
        "--run-dir",
        str(run_dir),
        "--concurrency",
        "8",
        *extra,
    ]


def test_plan_refuses_a_budget_that_cannot_pay_for_one_iteration():
    plan = RolloutPlan(budget=40, trials=2, val_size=10, minibatch_size=3)
    assert (plan.seed_evaluation, plan.iteration_minimum, plan.iteration_maximum) == (20, 12, 32)
    assert plan.max_metric_calls == 20 and plan.max_overshoot == 30
    with pytest.raises(ConfigError, match="raise --budget to at least 52"):
        plan.check()
    RolloutPlan(budget=52, trials=2, val_size=10, minibatch_size=3).check()


def test_optimize_raises_the_validation_score_and_writes_every_output(server, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(optimize_args(server.base_url, run_dir)) == 0
    out = capsys.readouterr().out
    assert f"val {VAL} tasks" in out and "rollout plan (episodes): budget 120" in out
    assert re.search(r"iteration 1: parent #0 · minibatch \d/3 · child \d/3 ", out)

    candidates = json.loads((run_dir / "candidates.json").read_text())
    assert candidates["best_score"] > candidates["seed_score"]
    best = (run_dir / "best_wiki.md").read_text()
    assert best == candidates["candidates"][candidates["best"]]["wiki"]
    assert best.startswith(DEFAULT_POLICY_PATH.read_text().rstrip()[:200])
    assert rule_sentence("cancel_reservation") in best or rule_sentence("book_reservation") in best
    diff = (run_dir / "best_vs_seed.diff").read_text()
    assert diff.startswith("--- seed") and "\n+When the customer's request calls for it" in diff
    result = json.loads((run_dir / "gepa_result.json").read_text())
    assert len(result["candidates"]) == len(candidates["candidates"]) >= 2
    assert (run_dir / "val_scores.png").read_bytes().startswith(b"\x89PNG")
    split = json.loads((run_dir / "split.json").read_text())
    assert (
        len(split["val"]) == VAL
        and len(split["train"]) == TRAIN
        and not set(split["val"]) & set(split["train"])
    )

    # The budget: GEPA stops once it is reached, checking only between iterations.
    plan = RolloutPlan(BUDGET, 1, VAL, MINIBATCH)
    counted = result["total_metric_calls"]
    assert BUDGET <= counted <= BUDGET + plan.max_overshoot
    # Finished episodes are stored once each; nothing is run twice in a session.
    stored = len(list((run_dir / "episodes").glob("*.json")))
    ran = int(re.search(r"(\d+) episodes run in this session", out).group(1))
    assert stored == ran <= counted
    # Usage of the agent, the user simulator and the reflection model, each and in all.
    cost = json.loads((run_dir / "cost.json").read_text())
    requests = {side: cost[side]["requests"] for side in ("agent", "user", "reflection")}
    assert all(requests.values()) and cost["reflection"]["model"] == REFLECTION_MODEL
    assert cost["passed"] > 0 and cost["cost_usd"] is None  # the scripted models have no price
    assert f"  reflection  {REFLECTION_MODEL}: {requests['reflection']} requests" in out


def test_rerun_resumes_without_repeating_finished_episodes(tasks, tmp_path):
    """Kill the optimizer mid-run (SIGKILL), rerun the same command: it completes and never reruns
    an episode whose result is already in the run directory."""
    run_dir = tmp_path / "run"
    env = {**os.environ, KEY_ENV: KEY}
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS, latency=0.03) as server:
        command = [
            sys.executable,
            "-m",
            "taugepa.cli",
            *optimize_args(server.base_url, run_dir, "--no-llm-cache"),
        ]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        episodes = run_dir / "episodes"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(episodes.glob("*.json"))) < 40:
            assert first.poll() is None, first.stdout.read().decode()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        stored_at_kill = len(list(episodes.glob("*.json")))
        assert 40 <= stored_at_kill < BUDGET and not (run_dir / "candidates.json").exists()

        second = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert f"resuming the run in {run_dir} ({stored_at_kill} finished episodes on disk)" in second.stdout
    ran = int(re.search(r"(\d+) episodes run in this session", second.stdout).group(1))
    reused = int(re.search(r"(\d+) reused from the run directory", second.stdout).group(1))
    stored_now = len(list(episodes.glob("*.json")))
    assert stored_now == stored_at_kill + ran  # every episode run after the restart was a new one
    assert reused >= VAL  # at least GEPA's repeated seed evaluation came from the run directory
    assert json.loads((run_dir / "candidates.json").read_text())["best_score"] > 0


def test_a_run_directory_of_other_settings_is_refused(server, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(optimize_args(server.base_url, run_dir)) == 0
    assert main(optimize_args(server.base_url, run_dir, "--seed", "7")) == 2
    err = capsys.readouterr().err
    assert "holds a run with other settings" in err and err.count("\n") == 1


def test_persistent_infrastructure_errors_fail_loudly(tasks, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV, KEY)
    faults = Faults(rate=1.0, kinds=("500",), max_in_a_row=10**6)
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS, faults=faults) as failing:
        code = main(optimize_args(failing.base_url, tmp_path / "run", "--max-retries", "0"))
    err = capsys.readouterr().err
    assert code == 1
    # the same failure ending 3 episodes in a row stops the run early (taugepa.llm.endpoint_health)
    assert "failed 3 episodes in a row the same way, with no success between: HTTP 500" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run" / "candidates.json").exists()
    assert not list((tmp_path / "run" / "episodes").glob("*.json"))  # no fake results were kept


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "10"], "cannot pay for one iteration"),
        (["--budget", "0"], "--budget must be at least 1"),
        (["--val-size", "400"], "leaves no training task"),
        (["--task-filter", "violates"], "--task-filter 'violates': choose one of clean, compliant, all"),
    ],
)
def test_bad_input_is_one_line(server, tmp_path, capsys, args, message):
    code = main([*optimize_args(server.base_url, tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert server.stats()["requests"] == 0  # refused before spending anything


def test_reflection_model_is_required(tmp_path, capsys):
    arguments = [a for a in optimize_args("http://127.0.0.1:9/v1", tmp_path) if a != REFLECTION_MODEL]
    arguments.remove("--reflection-model")
    assert main(arguments) == 2
    assert "pass --reflection-model NAME" in capsys.readouterr().err
