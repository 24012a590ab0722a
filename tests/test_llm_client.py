"""The LLM client over real HTTP: retries, Retry-After, errors, cache, usage (scripted server)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import socket
import time
from email.utils import formatdate

import pytest

from taugepa.episode.user_sim import user_system_prompt
from taugepa.errors import InfrastructureError
from taugepa.llm.cache import ResponseCache, request_key
from taugepa.llm.client import ChatClient
from taugepa.llm.config import Endpoint, LLMConfigError, public_url
from taugepa.llm.price_file import parse_prices
from taugepa.llm.prices import PriceTable
from taugepa.llm.wire import parse_retry_after
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Faults
from taugepa.testing.scripted_server import ScriptedServer

KEY = "sk-test-client-0123456789abcdef"


@pytest.fixture(scope="module")
def tasks(synthetic_files):
    return load_tasks([str(synthetic_files[0])]).tasks[:5]


def client_for_server(server, tmp_path=None, *, timeout=5.0, retries=3, delay=0.01, prices=()):
    endpoint = Endpoint(
        base_url=server.base_url,
        api_key_env="UNUSED",
        timeout=timeout,
        max_retries=retries,
        retry_delay=delay,
        cache_dir=str(tmp_path / "llm-cache") if tmp_path else None,
        prices=prices,
    )
    return ChatClient(endpoint, KEY)


def user_request(task):
    return {
        "side": "user",
        "model": USER_MODEL,
        "messages": [{"role": "system", "content": user_system_prompt(task.instruction)}],
        "seed": 0,
    }


def test_a_completion_carries_the_message_and_its_usage(tasks):
    with ScriptedServer(tasks, api_key=KEY) as server:
        completion = client_for_server(server).complete(**user_request(tasks[0]))
    assert completion.message == {
        "role": "assistant",
        "content": tasks[0].instruction,
        "finish_reason": "stop",
    }
    usage = completion.usage
    assert usage.side == "user" and usage.model == USER_MODEL and not usage.cached and usage.retries == 0
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd is None  # the scripted models have no price


def test_429_is_waited_out_after_the_retry_after_pause_without_using_retries(tasks):
    faults = Faults(rate=1.0, kinds=("429",), max_in_a_row=2, retry_after=0.3)
    with ScriptedServer(tasks, faults=faults) as server:
        client = client_for_server(server, delay=0.0, retries=0)  # no retries: a 429 is not one
        started = time.perf_counter()
        completion = client.complete(**user_request(tasks[0]))
        elapsed = time.perf_counter() - started
        stats = server.stats()
    usage = completion.usage
    assert usage.retries == 0 and usage.rate_limited == 2 and usage.rate_wait_s >= 0.6
    assert stats["faults"] == {"429": 2} and stats["requests"] == 3
    assert elapsed >= 0.6  # two pauses of Retry-After 0.3 s, although the backoff delay is 0


@pytest.mark.parametrize("kind", ["500", "503", "disconnect", "garbage", "timeout"])
def test_transient_faults_are_retried(tasks, kind):
    faults = Faults(rate=1.0, kinds=(kind,), max_in_a_row=2, retry_after=0.01)
    with ScriptedServer(tasks, faults=faults) as server:  # a "timeout" holds until the client gives up
        completion = client_for_server(server, timeout=3.0).complete(**user_request(tasks[0]))
        stats = server.stats()
    assert completion.message["content"] == tasks[0].instruction
    assert completion.usage.retries == 2 and stats["faults"] == {kind: 2}


def test_spent_retries_are_an_infrastructure_error(tasks):
    faults = Faults(rate=1.0, kinds=("503",), max_in_a_row=100, retry_after=0.01)
    with ScriptedServer(tasks, faults=faults) as server:
        with pytest.raises(InfrastructureError, match=r"failed 3 time\(s\); last: HTTP 503") as caught:
            client_for_server(server, retries=2).complete(**user_request(tasks[0]))
        assert server.stats()["requests"] == 3
    assert not isinstance(caught.value, LLMConfigError)


def test_an_unknown_model_is_a_configuration_error_at_once(tasks):
    with ScriptedServer(tasks) as server:
        request = {**user_request(tasks[0]), "model": "gpt-nonexistent"}
        with pytest.raises(LLMConfigError) as caught:
            client_for_server(server).complete(**request)
        assert server.stats()["requests"] == 1  # not retried
    message = str(caught.value)
    assert "\n" not in message
    assert "the user model 'gpt-nonexistent' was not found at" in message and "HTTP 404" in message
    assert "--user-model" in message


def test_a_rejected_key_is_a_configuration_error_that_does_not_show_the_key(tasks):
    with ScriptedServer(tasks, api_key="sk-the-right-one") as server:
        with pytest.raises(LLMConfigError, match=r"rejected the API key in \$UNUSED \(HTTP 401\)") as caught:
            client_for_server(server).complete(**user_request(tasks[0]))
    assert KEY not in str(caught.value)


def test_an_endpoint_that_never_answered_and_refuses_connections_is_a_configuration_error(caplog):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint(f"http://127.0.0.1:{port}/v1", "UNUSED", 2.0, 5, 0.01, None)
    with caplog.at_level(logging.INFO, logger="taugepa.llm"):
        with pytest.raises(LLMConfigError, match=r"cannot reach the LLM endpoint http://127\.0\.0\.1:\d+/v1"):
            ChatClient(endpoint, KEY).complete(side="agent", model="m", messages=[])
    retries = [record for record in caplog.records if "retry" in record.getMessage()]
    assert len(retries) == 1  # one more try (a refused connection can be a blip), not all five


def test_an_endpoint_that_goes_away_after_answering_is_an_infrastructure_error(tasks):
    server = ScriptedServer(tasks).start()
    client = client_for_server(server, retries=2)
    client.complete(**user_request(tasks[0]))
    server.stop()
    with pytest.raises(InfrastructureError, match="failed 3 time"):
        client.complete(**user_request(tasks[1]))


def test_identical_requests_are_answered_from_the_cache(tasks, tmp_path):
    with ScriptedServer(tasks) as server:
        first = client_for_server(server, tmp_path).complete(**user_request(tasks[0]))
        again = client_for_server(server, tmp_path).complete(**user_request(tasks[0]))  # a new client
        assert server.stats()["requests"] == 1
        assert again.message == first.message and again.usage.cached
        # no price for the scripted model: its cost is unknown, cached or not
        assert first.usage.cost_usd is None and again.usage.cost_usd is None
        priced = client_for_server(server, tmp_path, prices=((USER_MODEL, 1.0, 2.0),))
        assert priced.complete(**user_request(tasks[0])).usage.cost_usd == 0.0  # a price: cached is free
        for change in ({"seed": 1}, {"temperature": 0.5}, {"model": AGENT_MODEL}):
            client_for_server(server, tmp_path).complete(**{**user_request(tasks[0]), **change})
        assert server.stats()["requests"] == 4  # seed, temperature and model are part of the key


def test_errors_are_never_cached(tasks, tmp_path):
    faults = Faults(rate=1.0, kinds=("500",), max_in_a_row=2, retry_after=0.01)
    with ScriptedServer(tasks, faults=faults) as server:
        with pytest.raises(InfrastructureError):
            client_for_server(server, tmp_path, retries=1).complete(**user_request(tasks[0]))
        completion = client_for_server(server, tmp_path).complete(**user_request(tasks[0]))
        assert not completion.usage.cached and server.stats()["requests"] == 3
    entries = list((tmp_path / "llm-cache").rglob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["response"]["choices"]


def test_the_cache_key_covers_the_endpoint_and_the_exact_body():
    body = b'{"model":"m","messages":[]}'
    assert request_key("http://a/v1", body) == request_key("http://a/v1", body)
    assert request_key("http://a/v1", body) != request_key("http://b/v1", body)
    assert request_key("http://a/v1", body) != request_key("http://a/v1", body.replace(b"m", b"n"))


def _hammer(directory: str, worker: int) -> int:
    cache = ResponseCache(directory)
    misses = 0
    for round_ in range(150):
        key = f"{round_ % 10:064x}"
        cache.put(key, {"choices": [{"message": {"content": "x" * 5000}}], "writer": worker})
        entry = cache.get(key)
        misses += entry is None or len(entry["choices"][0]["message"]["content"]) != 5000
    return misses


def test_the_cache_is_safe_for_several_processes_writing_the_same_entries(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        misses = pool.starmap(_hammer, [(str(tmp_path), worker) for worker in range(4)])
    assert misses == [0, 0, 0, 0]
    assert not list(tmp_path.rglob(".tmp-*")) and len(list(tmp_path.rglob("*.json"))) == 10


def test_retry_after_headers_in_seconds_milliseconds_and_dates():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 8 <= parse_retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert parse_retry_after({}) is None and parse_retry_after({"retry-after": "soon"}) is None


def test_urls_are_stored_without_credentials():
    assert (
        public_url("https://user:sk-secret@example.com:8443/v1?api-key=sk-x#f")
        == "https://example.com:8443/v1"
    )


def test_the_key_is_scrubbed_from_text_that_echoes_it(tasks):
    with ScriptedServer(tasks) as server:
        client = client_for_server(server)
        assert client.scrub(f"Incorrect API key provided: {KEY}.") == "Incorrect API key provided: ***."


def test_prices_by_model_with_overrides_and_dated_names():
    table = PriceTable(parse_prices({"my-model": {"input": 1, "output": 2}}, "prices.json"))
    assert table.cost("my-model", 1_000_000, 500_000) == pytest.approx(2.0)
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)  # not gpt-4o's price
    assert table.cost("openai/gpt-4o", 0, 1_000_000) == pytest.approx(10.0)
    assert table.cost("llama-3-70b", 1000, 1000) is None
