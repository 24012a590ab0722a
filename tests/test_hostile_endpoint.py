"""A hostile endpoint over real HTTP: trickled and endless answers, echoed keys, unwritable caches.

Every request has a total deadline (connect, headers and body): a server that drips its
headers or body a byte at a time, or sends a chunked body that never ends, costs the
request its deadline and no more, and a miss is retried like any timeout, then an `error`
verdict. The deadlines here are 2 s; the servers would take minutes (or for ever).
"""

from __future__ import annotations

import base64
import logging
import time
from urllib.parse import quote

import pytest

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.episode.user_sim import user_system_prompt
from taugepa.errors import ConfigError
from taugepa.llm.client import ChatClient, RequestFailed
from taugepa.llm.config import Endpoint, LLMConfig, LLMConfigError
from taugepa.protocol import ERROR
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.hostile import WIRE_KINDS, Hostile
from taugepa.testing.scripted_models import USER_MODEL, scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer

KEY = "sk-hostile-endpoint-0123456789abcdef"
KEY_ENV = "TAUGEPA_TEST_HOSTILE_KEY"
DEADLINE = 2.0


@pytest.fixture(scope="module")
def tasks(synthetic_files):
    return load_tasks([str(synthetic_files[0])]).tasks[:3]


def client(server, *, timeout=DEADLINE, retries=1, cache_dir=None):
    endpoint = Endpoint(server.base_url, "UNUSED", timeout, retries, 0.01, cache_dir)
    return ChatClient(endpoint, KEY)


def user_request(task):
    return {
        "side": "user",
        "model": USER_MODEL,
        "messages": [{"role": "system", "content": user_system_prompt(task.instruction)}],
    }


@pytest.mark.parametrize("wire", [kind for kind in WIRE_KINDS if kind != "flood"])
def test_a_request_ends_by_its_deadline_whatever_the_server_trickles(tasks, wire):
    with ScriptedServer(tasks, hostile=Hostile(wire=wire, interval=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(RequestFailed) as caught:
            client(server).complete(**user_request(tasks[0]))
        elapsed = time.monotonic() - started
        stats = server.stats()
    assert stats["faults"] == {wire: 2}  # the first attempt and its retry
    assert str(caught.value).endswith("failed 2 time(s); last: no answer within 2 s")
    assert elapsed < 60  # two deadlines of 2 s; the server would trickle for minutes (headers: for ever)


def test_an_endless_flood_is_cut_at_the_size_limit(tasks):
    with ScriptedServer(tasks, hostile=Hostile(wire="flood")) as server:
        with pytest.raises(RequestFailed) as caught:
            client(server, timeout=120.0).complete(**user_request(tasks[0]))
    assert str(caught.value).endswith("last: ReadError: the answer is larger than 16 MiB")


def test_a_trickle_on_the_first_attempt_only_is_retried_and_answered(tasks):
    with ScriptedServer(
        tasks, hostile=Hostile(wire="trickle_headers", wire_attempts=1, interval=0.2)
    ) as server:
        completion = client(server).complete(**user_request(tasks[0]))
    assert completion.message["content"] == tasks[0].instruction and completion.usage.retries == 1


def test_an_episode_whose_endpoint_trickles_is_an_infrastructure_error(tasks, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, KEY)
    with ScriptedServer(tasks, hostile=Hostile(wire="endless_chunked", interval=0.1)) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False, timeout=DEADLINE, max_retries=0)
        result = run_episode(tasks[0], "policy", HarnessSettings(llm=llm), gold_cache=GoldCache(tmp_path))
    assert result.outcome == ERROR and result.score is None
    assert result.feedback.startswith("Infrastructure error (not the agent's fault): the user model")
    assert result.feedback.endswith("failed 1 time(s); last: no answer within 2 s")


def test_credentials_in_a_base_url_are_refused_without_showing_them(monkeypatch):
    with pytest.raises(ConfigError) as caught:
        LLMConfig(agent_model="m", base_url=f"http://user:{KEY}@127.0.0.1:9/v1")
    assert str(caught.value) == (
        "--base-url must not contain credentials (user:password@ in http://127.0.0.1:9/v1): they would "
        "be sent with every request and can be echoed back by the server; put the key in the environment "
        "variable named by --api-key-env (default OPENAI_API_KEY) instead"
    )
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://{KEY}@api.example.com/v1")
    with pytest.raises(ConfigError, match=r"^\$OPENAI_BASE_URL must not contain credentials") as caught:
        LLMConfig(agent_model="m").endpoint("agent")
    assert KEY not in str(caught.value)
    with pytest.raises(ConfigError, match=r"^--user-base-url 'ftp://host/v1' is not an http\(s\) URL"):
        LLMConfig(agent_model="m", user_base_url="ftp://host/v1")
    with pytest.raises(ConfigError, match=r"^--base-url is not an http\(s\) URL") as caught:
        LLMConfig(agent_model="m", base_url=KEY)  # a key pasted in the wrong place is not echoed
    assert KEY not in str(caught.value)


def test_a_key_echoed_back_in_any_encoding_never_reaches_the_message(tasks):
    forms = [KEY, base64.b64encode(f"user:{KEY}".encode()).decode(), quote(KEY, safe="")]
    with ScriptedServer(tasks, hostile=Hostile(echo_credentials=True)) as server:
        with pytest.raises(LLMConfigError) as caught:
            client(server).complete(**user_request(tasks[0]))
    message = str(caught.value)
    assert "HTTP 400" in message and "***" in message
    assert not any(form in message for form in forms)
    assert not any(form[4:-4] in message for form in forms)  # not even most of one


def test_a_key_echoed_in_a_successful_answer_never_reaches_the_transcript(tasks, tmp_path):
    basic = base64.b64encode(f"user:{KEY}".encode()).decode()
    echo = f"Your headers: Bearer {KEY}; Basic {basic}; {quote(KEY)}."
    hostile = Hostile(user_answers=({"role": "assistant", "content": echo},))
    with ScriptedServer(tasks, hostile=hostile) as server:
        answer = client(server, cache_dir=str(tmp_path / "llm")).complete(**user_request(tasks[0]))
    text = answer.message["content"]
    assert text.startswith("Your headers: Bearer ***; Basic ") and KEY not in text and basic not in text
    cached = [path.read_text() for path in (tmp_path / "llm").rglob("*") if path.is_file()]
    assert quote(KEY) not in text and cached and not any(KEY in entry for entry in cached)


def test_text_from_the_model_is_made_safe_before_it_is_cached(tasks, tmp_path):
    answer = {"role": "assistant", "content": "Hi \ud800 there\x00"}
    with ScriptedServer(tasks, hostile=Hostile(user_answers=(answer,))) as server:
        cached_client = client(server, cache_dir=str(tmp_path / "cache"))
        first = cached_client.complete(**user_request(tasks[0]))
        second = cached_client.complete(**user_request(tasks[0]))
    assert first.message["content"] == second.message["content"] == "Hi \ufffd there\ufffd"
    assert second.usage.cached and len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_an_unwritable_cache_is_said_once(tasks, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with ScriptedServer(tasks) as server, caplog.at_level(logging.WARNING, logger="taugepa"):
        uncached = client(server, cache_dir=str(blocker / "llm"))
        for task in tasks:
            uncached.complete(**user_request(task))
        gold = GoldCache(blocker)
        for task in tasks:
            gold.get(task)
    warnings = [record.getMessage() for record in caplog.records if record.name == "taugepa"]
    assert warnings == [
        f"taugepa: warning: the LLM response cache at {blocker / 'llm'} cannot be written (Not a directory): "
        "answers are not cached, so a rerun asks the endpoint (and pays) again",
        f"taugepa: warning: the gold cache at {blocker / 'gold'} cannot be written (Not a directory): "
        "each process replays the gold of every task again",
    ]
