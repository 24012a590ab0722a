"""--review-model: a second opinion on the failures blamed on the user simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.errors import ConfigError
from taugepa.results.failure_review import CONFIRMED, OVERRULED, UNCLEAR, parse_verdict, resolve_review
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_deviations import (
    DEVIANT_USER_MODEL,
    TRUSTING_AGENT_MODEL,
    deviation_models,
    mixed_scenario,
)
from taugepa.testing.scripted_models import Conduct
from taugepa.testing.scripted_review import REVIEW_MODELS, SCRIPTED_REVIEWER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_REVIEW_TEST_KEY"


@pytest.fixture(scope="module")
def scenario():
    return mixed_scenario(load_tasks(["taugepa-airline"]).tasks)


def _run(tmp_path, scenario, server, *extra, scores="scores.json"):
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", "taugepa-airline", "-k", " or ".join(t.id for t in scenario.tasks)]
    command += ["--scores-out", scores, "--agent-model", TRUSTING_AGENT_MODEL]
    command += ["--user-model", DEVIANT_USER_MODEL, "--base-url", server.base_url]
    command += ["--api-key-env", KEY_ENV, "--llm-cache", str(tmp_path / "cache"), *extra]
    env = {**os.environ, KEY_ENV: "any"}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


def test_the_review_model_confirms_one_blame_overrules_another_and_is_cached(tmp_path, scenario):
    server = ScriptedServer(
        scenario.tasks,
        conduct=Conduct(confirm_writes=True),
        plays=scenario.plays,
        extra_models={**deviation_models(scenario.deviations), **REVIEW_MODELS},
    )
    with server:
        review = ("--review-model", SCRIPTED_REVIEWER_MODEL)
        first = _run(tmp_path, scenario, server, *review)
        again = _run(tmp_path, scenario, server, *review, scores="again.json")
    assert "5 failed, 3 passed" in first.stdout, first.stdout[-3000:] + first.stderr[-2000:]
    scores = json.loads((tmp_path / "scores.json").read_text())
    failures = {e["task_id"]: e["failure"] for e in scores["episodes"] if e["outcome"] == "failed"}
    invent, stop = scenario.tasks[3].id, scenario.tasks[4].id
    assert failures[invent]["blame"] == "user_simulator"
    assert failures[invent]["review"]["verdict"] == CONFIRMED
    overruled = failures[stop]
    assert overruled["review"]["verdict"] == OVERRULED
    assert overruled["review"]["overruled_cause"] == "user_ended_early"
    assert overruled["blame"] == "agent"
    assert overruled["cause"] == overruled["agent_cause"] != "user_ended_early"
    agent_only = [f for task_id, f in failures.items() if task_id not in (invent, stop)]
    assert all("review" not in f for f in agent_only)  # only simulator blame is reviewed
    summary = scores["summary"]["failures"]
    assert summary["by_blame"] == {"agent": 4, "user_simulator": 1, "task": 0}
    assert summary["reviews"] == {CONFIRMED: 1, OVERRULED: 1}
    assert summary["review_usage"]["requests"] == 2  # the scripted model has no price: cost unknown
    assert summary["review_usage"]["cost_usd"] is None
    assert summary["pass_rate_without_simulator"] == pytest.approx(3 / 7)
    assert "review model: 1 confirmed, 1 overruled" in first.stdout
    assert scores["run"]["failure_review"]["model"] == SCRIPTED_REVIEWER_MODEL
    assert failures[invent]["review"]["usage"]["requests"] == 1
    # the rerun takes the reviews from the cache: same verdicts, no new request
    cached = json.loads((tmp_path / "again.json").read_text())
    again_failures = {e["task_id"]: e["failure"] for e in cached["episodes"] if e["outcome"] == "failed"}
    assert again_failures[stop]["review"]["verdict"] == OVERRULED, again.stdout[-2000:]
    assert again_failures[invent]["review"]["usage"]["cache_hits"] == 1
    assert again_failures[invent]["review"]["usage"]["requests"] == 0


def test_a_review_endpoint_that_fails_leaves_the_blame_and_says_so(tmp_path, scenario):
    server = ScriptedServer(
        scenario.tasks,
        conduct=Conduct(confirm_writes=True),
        plays=scenario.plays,
        extra_models=deviation_models(scenario.deviations),
    )
    with server:  # the reviewer's model is unknown to this server: its requests fail
        run = _run(tmp_path, scenario, server, "--review-model", "no-such-model", "--max-retries", "0")
    assert "5 failed, 3 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    scores = json.loads((tmp_path / "scores.json").read_text())
    reviewed = [e["failure"] for e in scores["episodes"] if (e.get("failure") or {}).get("review")]
    assert len(reviewed) == 2
    assert all(f["blame"] == "user_simulator" and f["review"]["verdict"] == "review failed" for f in reviewed)
    assert scores["summary"]["counts"]["error"] == 0  # the review's failure is nobody's episode error


def test_review_options_alone_and_a_missing_key_are_refused_with_one_line(tmp_path, scenario):
    def lookup(values):
        return lambda name: (values.get(name), None)

    with pytest.raises(ConfigError, match="--review-base-url needs --review-model"):
        resolve_review(lookup({"review_base_url": "http://127.0.0.1:9/v1"}))
    assert resolve_review(lookup({})) is None
    server = ScriptedServer(scenario.tasks)
    with server:
        missing_key = ("--review-api-key-env", "TAUGEPA_NO_SUCH_KEY_VAR")
        run = _run(tmp_path, scenario, server, "--review-model", "m", *missing_key)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert "TAUGEPA_NO_SUCH_KEY_VAR" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"verdict": "confirm", "reason": "r"}', CONFIRMED),
        ('Sure.\n```json\n{"verdict": "Overrule", "reason": "r"}\n```', OVERRULED),
        ('{"verdict": "maybe"}', UNCLEAR),
        ("no json here", UNCLEAR),
        ("{not json}", UNCLEAR),
    ],
)
def test_verdicts_are_parsed_strictly(answer, verdict):
    assert parse_verdict(answer)[0] == verdict
