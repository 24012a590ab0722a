"""Rate limits: a scripted server that answers 429 as OpenAI does, and a client that paces and waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from taugepa.errors import InfrastructureError
from taugepa.llm import rate_limits
from taugepa.llm.client import ChatClient
from taugepa.llm.config import Endpoint
from taugepa.llm.rate_limits import EndpointGate, duration_s, limiting_line
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Action
from taugepa.testing.rate_limited import RateLimit, duration_text, max_in_window
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Faults
from taugepa.testing.scripted_server import ScriptedServer

KEY = "sk-rate-limit-test-key-000000"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(["tau2-airline"]).tasks[:12]


def client_for(server, *, retries=0, rpm=None, tpm=None):
    endpoint = Endpoint(
        base_url=server.base_url,
        api_key_env="UNUSED",
        timeout=10.0,
        max_retries=retries,
        retry_delay=0.01,
        cache_dir=None,
        rpm=rpm,
        tpm=tpm,
    )
    return ChatClient(endpoint, KEY)


def request_for(task):
    return {
        "side": "user",
        "model": USER_MODEL,
        "messages": [
            {"role": "system", "content": f"You are a customer.\n\nInstruction: {task.instruction}"},
            {"role": "user", "content": "Hi! How can I help you today?"},
        ],
    }


def test_the_scripted_server_refuses_beyond_its_limit_as_openai_does(tasks):
    body = json.dumps(request_for(tasks[0]) | {"side": None}).encode()
    with ScriptedServer(tasks, rate_limit=RateLimit(rps=1, burst=1)) as server:
        post = urllib.request.Request(f"{server.base_url}/chat/completions", data=body, method="POST")
        with urllib.request.urlopen(post) as answered:
            assert answered.headers["x-ratelimit-limit-requests"] == "60"
            assert answered.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post)
        stats = server.stats()
    error = refused.value
    assert error.code == 429
    assert int(error.headers["retry-after"]) == 1 and 0 < int(error.headers["retry-after-ms"]) <= 1000
    assert duration_s(error.headers["x-ratelimit-reset-requests"]) <= 1.0
    document = json.loads(error.read())
    assert document["error"]["code"] == "rate_limit_exceeded" and document["error"]["type"] == "requests"
    assert document["error"]["message"].startswith("Rate limit reached for requests per min (RPM): Limit 60")
    assert stats["rate_limit"]["admitted"] == 1 and stats["rate_limit"]["refused"] == 1
    assert stats["faults"] == {"rate_limited": 1}


def test_many_requests_at_once_all_succeed_and_every_429_is_counted(tasks):
    """24 threads at once against 8 requests a second: no request fails, none uses a retry, and the
    client's count of rate-limit answers is the server's."""
    with ScriptedServer(tasks, rate_limit=RateLimit(rps=8)) as server:
        client = client_for(server, retries=0)
        results, errors = [], []

        def one(index):
            try:
                results.append(client.complete(**request_for(tasks[index % len(tasks)])))
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = server.stats()
    assert errors == [] and len(results) == 24
    assert all(result.usage.retries == 0 for result in results)
    refused = stats["rate_limit"]["refused"]
    assert sum(result.usage.rate_limited for result in results) == refused
    assert refused < 24  # paced after the first refusals, not a stampede per round
    assert client.gate.rate is not None and client.gate.stated == pytest.approx(8.0)
    limited = [result.usage.in_flight_limit for result in results if result.usage.in_flight_limit]
    assert limited and all(limit >= 1 for limit in limited)


def test_rpm_paces_from_the_start_and_workers_share_it(tasks):
    rate_limits.set_workers(2)
    try:
        gate = EndpointGate("http://x/v1", rpm=600, tpm=60_000)  # 10 a second, 1,000 tokens a second
        assert gate.cap == pytest.approx(5.0 * rate_limits.MARGIN)
        assert gate.token_cap == pytest.approx(500.0 * rate_limits.MARGIN)
    finally:
        rate_limits.set_workers(1)
    with ScriptedServer(tasks, rate_limit=RateLimit(rps=1000)) as server:
        client = client_for(server, rpm=240)  # 4 a second
        threads = [
            threading.Thread(target=client.complete, kwargs=request_for(tasks[i % len(tasks)]))
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = server.stats()
    assert stats["rate_limit"]["admitted"] == 8 and stats["rate_limit"]["refused"] == 0
    # sent 0.25 s apart: at most 4 in any second, and one more for the network's jitter
    assert stats["rate_limit"]["max_per_second"] <= 5


def test_a_server_asking_for_a_longer_pause_than_taugepa_waits_fails_at_once(tasks):
    faults = Faults(rate=1.0, kinds=("429",), max_in_a_row=100, retry_after=500)
    with ScriptedServer(tasks, faults=faults) as server:
        with pytest.raises(InfrastructureError, match=r"asked to wait 500 s \(Retry-After\)"):
            client_for(server, retries=3).complete(**request_for(tasks[0]))
        assert server.stats()["requests"] == 1


def test_durations_as_openai_writes_them():
    assert duration_s("1s") == 1.0 and duration_s("250ms") == 0.25 and duration_s("6m0s") == 360.0
    assert duration_s("1h2m3.5s") == pytest.approx(3723.5) and duration_s("2") == 2.0
    assert duration_s("soon") is None and duration_s("") is None and duration_s("5x") is None
    for seconds in (0.2, 1.0, 7.5, 360.0):
        assert duration_s(duration_text(seconds)) == pytest.approx(seconds, abs=0.05)


def test_the_busiest_window():
    assert max_in_window([0.0, 0.1, 0.5, 1.05, 1.2, 3.0], 1.0) == 3
    assert max_in_window([], 1.0) == 0


def test_the_limiting_line():
    line = limiting_line("agent", "https://api.openai.com/v1", 3, 16)
    assert line.startswith("rate limited by the agent endpoint https://api.openai.com/v1: ")
    assert "running 3 in flight instead of 16" in line


def test_a_429_starts_pacing_at_the_stated_limit_and_growth_waits_for_room():
    gate = EndpointGate("http://x/v1")
    gate.acquire(100)
    stated = {"x-ratelimit-limit-requests": "300", "x-ratelimit-remaining-requests": "0"}
    pause = gate.refused(stated, 0.2)
    assert pause == 0.2 and gate.rate == pytest.approx(5.0 * rate_limits.MARGIN)  # 300 a minute
    paced = gate.rate
    gate.acquire(100)
    gate.answered({**stated, "x-ratelimit-remaining-requests": "0"}, 0.3)
    assert gate.rate == paced  # no room left: the pace holds
    gate.acquire(100)
    gate.answered({**stated, "x-ratelimit-remaining-requests": "3"}, 0.3)
    assert gate.rate == pytest.approx(paced)  # room, but never above the stated limit (less the margin)


def test_without_a_stated_limit_the_pause_sets_the_first_pace_and_a_reset_header_the_pause():
    gate = EndpointGate("http://x/v1")
    gate.acquire(10)
    assert gate.refused({}, 0.5) == 0.5 and gate.rate == pytest.approx(2.0)
    gate2 = EndpointGate("http://y/v1")
    gate2.acquire(10)
    headers = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1.5s"}
    assert gate2.refused(headers, None) == pytest.approx(1.5)  # no Retry-After: the reset time


def test_a_benchmark_against_a_rate_limited_endpoint_waits_and_says_so(tmp_path, tasks):
    """pytest benchmarks with 16 episodes in flight against 10 requests a second: no error, the
    line saying the endpoint limits the run, and the 429s counted in the summary and scores file."""
    repo = Path(__file__).resolve().parent.parent
    moves = {t.id: [Action("get_user_details", {"user_id": t.user_id})] for t in tasks}
    env = {**os.environ, "TAUGEPA_RATE_TEST_KEY": "sk-rate"}
    with ScriptedServer(tasks, rate_limit=RateLimit(rps=10), plays=moves) as server:
        cases = [f"{repo / 'benchmarks' / 'test_airline.py'}::test_task[{t.id}]" for t in tasks]
        command = [sys.executable, "-m", "pytest", *cases, "-q", "-p", "no:cacheprovider"]
        command += ["--tasks", "tau2-airline", "--no-llm-cache"]
        command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--base-url", server.base_url]
        command += ["--api-key-env", "TAUGEPA_RATE_TEST_KEY", "--concurrency", "16"]
        command += ["--scores-out", str(tmp_path / "scores.json")]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        stats = server.stats()
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["summary"]["counts"]["error"] == 0 and len(scores["episodes"]) == len(tasks), run.stdout
    refused = stats["rate_limit"]["refused"]
    assert refused > 0 and scores["summary"]["usage"]["rate_limited"] == refused
    assert f"taugepa: rate limited by the agent and user endpoint {server.base_url}: running " in run.stdout
    assert "instead of 16" in run.stdout and "answers 429 waited out" in run.stdout


def test_tpm_paces_tokens_with_an_allowance_for_the_answer():
    gate = EndpointGate("http://x/v1", tpm=60_000)  # 1,000 tokens a second, less the margin
    waited = gate.acquire(744)
    assert waited == 0.0  # the first request goes at once
    per_second = 1000.0 * rate_limits.MARGIN
    expected = (744 + rate_limits.COMPLETION_ALLOWANCE) / per_second
    assert gate.next_token_at - gate._started[threading.get_ident()] == pytest.approx(expected)
