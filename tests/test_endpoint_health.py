"""A wrong or dead endpoint stops the run early, with one line; an unreachable one is an error at start.

Against `taugepa.testing.provider_proxy`: an endpoint that answers HTML (`python -m http.server`
answers a POST with a 501 page), one that dies mid-run, and a port nobody listens at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.llm.endpoint_health import FailureStreak, answer_sample, failure_signature
from taugepa.tasks.loading import load_tasks
from taugepa.testing.provider_proxy import ProviderFaults, ProviderProxy, closed_url
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_HEALTH_TEST_KEY"
KEY = "sk-endpoint-health-6b2d9e1f7c3a"


def failed(reason: str) -> str:
    prefix = "Infrastructure error (not the agent's fault): the agent model 'm' at u"
    return f"{prefix} failed 2 time(s); last: {reason}"


def test_the_same_failure_three_episodes_in_a_row_stops_a_success_resets_it():
    streak = FailureStreak()
    html = failed("HTTP 501 Unsupported method ('POST'), text/html '<!DOCTYPE HTML>'")
    assert streak.record(True, html) is None and streak.record(True, html) is None
    assert streak.record(False) is None  # a success between: transient, not a dead endpoint
    assert streak.record(True, html) is None and streak.record(True, html) is None
    reason = streak.record(True, html)
    assert reason is not None and "3 episodes in a row the same way" in reason
    assert "text/html '<!DOCTYPE HTML>'" in reason and "check --base-url" in reason
    other = FailureStreak()
    assert other.record(True, html) is None and other.record(True, failed("HTTP 503")) is None
    assert other.record(True, html) is None  # different failures do not add up
    # what varies between attempts (waits) does not make the same failure look different
    assert failure_signature(failed("no answer within 4 s")) == failure_signature(
        failed("no answer within 9 s")
    )


def test_what_an_endpoint_answered_reads_as_its_content_type_and_first_characters():
    assert (
        answer_sample("text/html;charset=utf-8", "<!DOCTYPE HTML>\n<html>")
        == "text/html '<!DOCTYPE HTML> <html>'"
    )
    assert answer_sample(None, "") == "(empty body)"


@pytest.fixture(scope="module")
def tasks(v1_tasks_file):
    return load_tasks([str(v1_tasks_file)]).tasks[:8]


def benchmark(tmp_path, tasks, v1_tasks_file, base_url, *extra):
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", str(v1_tasks_file), "-k", " or ".join(t.id for t in tasks)]
    command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--api-key-env", KEY_ENV]
    command += ["--base-url", base_url, "--scores-out", str(tmp_path / "scores.json"), "--no-llm-cache"]
    command += ["--max-retries", "1", *extra]
    env = {**os.environ, KEY_ENV: KEY}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


def test_an_endpoint_that_answers_html_stops_the_run_after_three_episodes(tmp_path, tasks, v1_tasks_file):
    with (
        ScriptedServer(tasks, api_key=KEY) as server,
        ProviderProxy(server.base_url, ProviderFaults(html=True)) as proxy,
    ):
        # one episode at a time, so that the count is exact (episodes in flight finish)
        run = benchmark(tmp_path, tasks, v1_tasks_file, proxy.base_url, "--concurrency", "1")
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    assert proxy.answered["html"] == 3 * 2  # three episodes, each its first request and one retry
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["summary"]["counts"]["error"] == 3 and len(scores["episodes"]) == 3
    assert scores["stopped"]["episodes_not_started"] == 5
    assert "text/html '<!DOCTYPE HTML>" in scores["stopped"]["reason"]
    lines = [line for line in output.splitlines() if line.startswith("stopped starting new episodes: ")]
    assert len(lines) == 1 and "failed 3 episodes in a row the same way" in lines[0]
    assert "Traceback" not in output
    assert output.rstrip().splitlines()[-1].startswith("FAIL (exit status 2): the run was stopped early")


def test_an_endpoint_that_dies_mid_run_keeps_the_finished_episodes(tmp_path, tasks, v1_tasks_file):
    with ScriptedServer(tasks, api_key=KEY) as server:
        with ProviderProxy(server.base_url, ProviderFaults(die_after=12)) as proxy:
            run = benchmark(tmp_path, tasks, v1_tasks_file, proxy.base_url, "--concurrency", "1")
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    scores = json.loads((tmp_path / "scores.json").read_text())
    counts = scores["summary"]["counts"]
    assert counts["passed"] >= 1 and counts["error"] == 3 and scores["stopped"]["episodes_not_started"] >= 1
    assert "Connection refused" in scores["stopped"]["reason"] or "Connect" in scores["stopped"]["reason"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_an_unreachable_endpoint_at_start_is_an_error_not_a_skip(tmp_path, tasks, v1_tasks_file, workers):
    run = benchmark(tmp_path, tasks, v1_tasks_file, closed_url(), *workers)
    output = run.stdout + run.stderr
    assert run.returncode == 4, output[-3000:]
    lines = [
        line for line in output.splitlines() if "cannot reach the LLM endpoint http://127.0.0.1:" in line
    ]
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and "check --base-url" in lines[0]
    assert "skipped" not in output and "Interrupted" not in output and "Traceback" not in output
    assert not (tmp_path / "scores.json").exists()
