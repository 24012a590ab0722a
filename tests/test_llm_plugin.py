"""`pytest benchmarks --agent llm` end to end: real pytest runs against the scripted server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_taugepa.workers import available_cpus
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Faults
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_PLUGIN_TEST_KEY"
KEY = "sk-plugin-test-9c1e55d2b7a04f3e"


@pytest.fixture(scope="module")
def medium_file(synthetic_files):
    return synthetic_files[1]


@pytest.fixture(scope="module")
def medium_tasks(medium_file):
    return load_tasks([str(medium_file)]).tasks


def benchmark(tmp_path, *args, key=KEY, scores="scores.json"):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    if key is not None:
        env[KEY_ENV] = key
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--scores-out", str(tmp_path / scores), *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


def llm_args(server, medium_file, *extra, count=None):
    args = ["--tasks", str(medium_file), "--agent-model", AGENT_MODEL, "--user-model", USER_MODEL]
    args += ["--base-url", server.base_url, "--api-key-env", KEY_ENV]
    if count is not None:
        args += ["-k", " or ".join(f"medium-{i:03d}" for i in range(count))]
    return [*args, *extra]


def scores_without_timing(path):
    document = json.loads(path.read_text())
    document.pop("timing")
    for entry in document["episodes"]:
        entry.pop("duration_s")
    return document


def test_concurrency_without_xdist_and_a_cached_rerun(tmp_path, medium_file, medium_tasks):
    # The server holds its first answers until 16 requests are in flight: no race with the clock.
    with ScriptedServer(medium_tasks, latency=0.02, api_key=KEY, gather=16) as server:
        args = llm_args(
            server, medium_file, "--concurrency", "16", "--llm-cache", str(tmp_path / "c"), count=38
        )
        first = benchmark(tmp_path, *args)
        stats = server.stats()
        again = benchmark(tmp_path, *args, scores="again.json")
        assert server.stats()["requests"] == stats["requests"]  # the rerun made no request
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert "38 passed" in first.stdout and stats["max_in_flight"] == 16
    assert f"agent  {AGENT_MODEL}: " in first.stdout and "LLM usage" in first.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["run"]["models"] == {"agent": AGENT_MODEL, "user": USER_MODEL}
    assert scores["run"]["llm"]["api_key_env"] == KEY_ENV and scores["run"]["concurrency"] == 16
    usage = scores["summary"]["usage"]
    assert usage["agent"]["requests"] + usage["user"]["requests"] == stats["requests"]
    assert again.returncode == 0 and "38 passed" in again.stdout
    cached = json.loads((tmp_path / "again.json").read_text())["summary"]["usage"]
    assert cached["agent"]["requests"] == 0 and cached["agent"]["cache_hits"] == usage["agent"]["requests"]
    assert [e["messages"] for e in cached_episodes(tmp_path / "again.json")] == [
        e["messages"] for e in scores["episodes"]
    ]


def cached_episodes(path):
    return json.loads(path.read_text())["episodes"]


def test_xdist_workers_each_run_episodes_concurrently_with_the_serial_verdicts(
    tmp_path, medium_file, medium_tasks
):
    with ScriptedServer(medium_tasks, latency=0.03, api_key=KEY) as server:
        args = llm_args(server, medium_file, "--concurrency", "4", "--no-llm-cache", count=24)
        serial = benchmark(tmp_path, *args, scores="serial.json")
        server.reset_stats()
        # The server holds its first answers until more than one worker's 4 requests are in
        # flight: a worker that starts late on a loaded machine cannot make this a race.
        server.gather(5)
        parallel = benchmark(tmp_path, *args, "-n", "2", "--keep-workers", scores="parallel.json")
        stats = server.stats()
    for run in (serial, parallel):
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert stats["max_in_flight"] > 4  # both workers had episodes in flight at once
    assert scores_without_timing(tmp_path / "serial.json") == scores_without_timing(
        tmp_path / "parallel.json"
    )


def test_more_workers_than_cpus_become_one_per_cpu_with_the_same_episodes_in_flight(
    tmp_path, medium_file, medium_tasks
):
    cpus = available_cpus()
    asked = cpus + 1
    each = asked * 2 // cpus  # --concurrency 2 per asked worker, shared among one worker per CPU
    with ScriptedServer(medium_tasks, latency=0.02, api_key=KEY) as server:
        # Answers wait until every folded worker has its episodes in flight: no race with the clock.
        server.gather(cpus * each)
        args = llm_args(server, medium_file, "--concurrency", "2", "--no-llm-cache", count=3 * cpus * each)
        run = benchmark(tmp_path, *args, "-n", str(asked))
        stats = server.stats()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert f"running {cpus} worker processes ({each} episodes in flight each" in run.stdout
    assert stats["max_in_flight"] >= cpus * each
    assert json.loads((tmp_path / "scores.json").read_text())["run"]["concurrency"] == each


def test_options_can_come_from_the_ini_file(tmp_path, medium_file, medium_tasks):
    with ScriptedServer(medium_tasks, api_key=KEY) as server:
        (tmp_path / "pytest.ini").write_text(
            "[pytest]\n"
            f"taugepa_agent_model = {AGENT_MODEL}\ntaugepa_user_model = {USER_MODEL}\n"
            f"taugepa_base_url = {server.base_url}\ntaugepa_api_key_env = {KEY_ENV}\n"
            "taugepa_concurrency = 3\ntaugepa_seed = 11\ntaugepa_use_llm_cache = false\n"
        )
        run = benchmark(
            tmp_path, "-c", str(tmp_path / "pytest.ini"), "--tasks", str(medium_file), "-k", "medium-00"
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["run"]["concurrency"] == 3 and scores["run"]["llm"]["cache"] is False
    assert {e["seed"] for e in scores["episodes"]} == {11}


def test_keys_never_reach_scores_reports_or_logs(tmp_path, medium_file, medium_tasks):
    faults = Faults(rate=0.3, kinds=("429", "503", "disconnect"), retry_after=0.01)
    with ScriptedServer(medium_tasks, faults=faults, api_key=KEY) as server:
        args = llm_args(server, medium_file, "--llm-cache", str(tmp_path / "cache"), count=12)
        logging = [
            "--log-file",
            str(tmp_path / "run.log"),
            "--log-file-level",
            "DEBUG",
            "--log-level",
            "DEBUG",
        ]
        run = benchmark(tmp_path, *args, *logging, "--html", str(tmp_path / "report.html"), "-rA")
        rejected = benchmark(
            tmp_path, *args, "--no-llm-cache", key="sk-wrong-key-4d2f8e", scores="rejected.json"
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    log = (tmp_path / "run.log").read_text()
    report = (tmp_path / "report.html").read_text()
    assert "retry 1 of 5" in log and "POST" in log  # the logs are detailed enough to leak, if anything did
    assert "update_reservation_flights" in report  # the report carries the transcripts
    artifacts = {
        "scores": (tmp_path / "scores.json").read_text(),
        "html": report,
        "log": log,
        "stdout": run.stdout + run.stderr,
        "cache": "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json")),
    }
    for name, text in artifacts.items():
        assert KEY not in text, f"the API key leaked into the {name}"
    assert rejected.returncode != 0 and "rejected the API key in $" + KEY_ENV in rejected.stdout
    assert "sk-wrong-key-4d2f8e" not in rejected.stdout + rejected.stderr


def _free_port_url():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


@pytest.mark.parametrize(
    ("case", "exit_code", "message"),
    [
        ("no key", 4, f"ERROR: no API key: set the environment variable {KEY_ENV}"),
        ("unreachable", 4, "ERROR: cannot reach the LLM endpoint http://127.0.0.1:"),
        ("unknown model", 2, "the agent model 'gpt-typo' was not found at http://127.0.0.1:"),
        ("negative timeout", 4, "ERROR: --request-timeout must be more than 0, got -1"),
    ],
)
def test_configuration_errors_stop_the_run_with_one_line(
    tmp_path, medium_file, medium_tasks, case, exit_code, message
):
    with ScriptedServer(medium_tasks, api_key=KEY) as server:
        args = llm_args(server, medium_file, "--no-llm-cache")
        key = None if case == "no key" else KEY
        if case == "unreachable":
            args += ["--base-url", _free_port_url()]
        if case == "unknown model":
            args += ["--agent-model", "gpt-typo"]
        if case == "negative timeout":
            args += ["--request-timeout", "-1"]
        run = benchmark(tmp_path, *args, key=key)
        requests = server.stats()["requests"]
    output = run.stdout + run.stderr
    assert run.returncode == exit_code, output[-3000:]
    lines = [line for line in output.splitlines() if message in line]
    assert len(lines) == 1, output[-3000:]
    assert "Traceback" not in output and not re.search(r"\d+ (failed|errors?)\b", output)
    assert not (tmp_path / "scores.json").exists()
    if case == "unknown model":
        assert requests <= 2 * 8  # the episodes in flight (8 by default): the user's line, the agent's 404


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_max_cost_ends_the_run_with_a_partial_scores_file(tmp_path, medium_file, medium_tasks, workers):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({AGENT_MODEL: {"input": 5, "output": 5}, USER_MODEL: {"input": 5, "output": 5}})
    )
    with ScriptedServer(medium_tasks, api_key=KEY) as server:
        args = llm_args(
            server, medium_file, "--no-llm-cache", "--prices", str(prices), "--max-cost", "0.5", count=60
        )
        run = benchmark(tmp_path, *args, "--concurrency", "2", *workers)
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    ran = len(scores["episodes"])
    assert scores["stopped"]["episodes_not_started"] == 60 - ran and 0 < ran < 60
    assert scores["stopped"]["reason"].startswith("--max-cost $0.5 reached")
    costs = [e["usage"]["cost_usd"] for e in scores["episodes"] if e["usage"]]
    assert scores["summary"]["usage"]["cost_usd"] == pytest.approx(sum(costs))
    in_flight = 2 * (1 + len(workers) // 2)  # --concurrency 2 per process
    assert 0.5 <= sum(costs) <= 0.5 + in_flight * max(costs)  # the overshoot: episodes already in flight
    assert f"{60 - ran} episodes not run (the scores file is partial)" in run.stdout
    # what the run spent in all, the episodes in flight when the budget ran out included
    assert scores["stopped"]["spent_usd"] == scores["summary"]["usage"]["cost_usd"]
    assert f"the run spent ${sum(costs):.4f} in all" in run.stdout


def test_max_cost_needs_known_prices(tmp_path, medium_file, medium_tasks):
    with ScriptedServer(medium_tasks, api_key=KEY) as server:
        run = benchmark(tmp_path, *llm_args(server, medium_file, "--max-cost", "1"))
    assert run.returncode == 4 and "--max-cost needs the price of model 'scripted-" in run.stderr


def test_an_endpoint_failing_after_retries_gives_errors_not_failures(tmp_path, medium_file, medium_tasks):
    faults = Faults(rate=1.0, kinds=("503",), max_in_a_row=1000, retry_after=0.01)
    with ScriptedServer(medium_tasks, faults=faults, api_key=KEY) as server:
        args = llm_args(server, medium_file, "--no-llm-cache", "--max-retries", "2", count=5)
        run = benchmark(tmp_path, *args)
        requests = server.stats()["requests"]
    pytest_line = next(line for line in run.stdout.splitlines() if " in " in line and "5 errors" in line)
    assert run.returncode == 1 and "failed" not in pytest_line
    assert run.stdout.strip().splitlines()[-1] == (
        "FAIL (exit status 1): 5 episodes ended in infrastructure errors (not the agent's fault)"
    ), run.stdout[-6000:]
    assert "Infrastructure error (not the agent's fault): the user model 'scripted-user'" in run.stdout
    summary = json.loads((tmp_path / "scores.json").read_text())["summary"]
    assert summary["counts"] == {"passed": 0, "failed": 0, "invalid": 0, "error": 5}
    assert summary["pass_rate"] is None and len(summary["error_episodes"]) == 5
    assert requests == 5 * 3
    assert summary["usage"]["user"]["retries"] == 5 * 2 and summary["usage"]["user"]["failures"] == 5
    assert (
        "2 retries, 1 failed after retries" not in run.stdout
        and "10 retries, 5 failed after retries" in run.stdout
    )
