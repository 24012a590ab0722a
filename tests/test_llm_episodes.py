"""Episodes through the real LLM path (openai client, HTTP, retries, cache) with scripted models."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from taugepa.episode.run import run_episode
from taugepa.episode.runner import CostBudget, EpisodeJob, NotStarted, run_episodes
from taugepa.episode.settings import HarnessSettings
from taugepa.episode.tau2_protocol import tau2_protocol
from taugepa.episode.user_sim import (
    AGENT_GREETING,
    LLMUserSimulator,
    instruction_from_prompt,
    user_system_prompt,
)
from taugepa.errors import ConfigError
from taugepa.llm.config import LLMConfigError
from taugepa.protocol import INVALID, PASSED, STOP_MARKER
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import PARALLEL_ARGUMENTS, PARALLEL_TOOL, Faults, scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV = "TAUGEPA_TEST_LLM_KEY"
KEY = "sk-test-episodes-5f0c2a9e7d1b"


@pytest.fixture(scope="module", autouse=True)
def api_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        yield


@pytest.fixture(scope="module")
def tasks(synthetic_files):
    return load_tasks([str(p) for p in synthetic_files]).tasks


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def wiki(v1_wiki):
    return v1_wiki.read_text()


@pytest.fixture(scope="module")
def expected(tasks, gold_cache):
    """The verdicts a sound agent gets: every task whose gold replays passes, the others are invalid."""
    return {(t.id, 0): PASSED if gold_cache.get(t).valid else INVALID for t in tasks}


def run(tasks, wiki, llm, gold_cache, concurrency=16, trial=0, **options):
    jobs = [EpisodeJob(t, wiki, HarnessSettings(agent="llm", llm=llm, trial=trial)) for t in tasks]
    return run_episodes(jobs, concurrency=concurrency, gold_cache=gold_cache, **options)


def verdicts(results):
    return {(r.task_id, r.trial): r.outcome for r in results}


def test_every_valid_synthetic_task_passes_through_the_llm_path(tasks, wiki, gold_cache, expected):
    with ScriptedServer(tasks, api_key=KEY) as server:
        results = run(tasks, wiki, scripted_llm_config(server.base_url, KEY_ENV, cache=False), gold_cache, 32)
        stats = server.stats()
    assert verdicts(results) == expected
    assert Counter(r.outcome for r in results) == {PASSED: 449, INVALID: 7}
    passed = [r for r in results if r.outcome == PASSED]
    # tau2's protocol (the default): a transfer does not end the episode, the user does
    assert Counter(r.termination for r in passed) == {"user_stop": 449}
    assert all(r.seed == 0 for r in passed)
    agent_requests = sum(r.usage["agent"]["requests"] for r in passed)
    user_requests = sum(r.usage["user"]["requests"] for r in passed)
    assert agent_requests + user_requests == stats["requests"] == stats["completions"]
    assert stats["by_model"] == {"scripted-agent": agent_requests, "scripted-user": user_requests}
    assert all(r.usage["agent"]["prompt_tokens"] > 0 and r.usage["user"]["requests"] > 0 for r in passed)
    assert all(r.usage == {} for r in results if r.outcome == INVALID)  # never started: no calls

    task = tasks[200]  # the agent's history opens with tau2's greeting, then the user simulator speaks
    result = next(r for r in results if r.task_id == task.id)
    protocol = tau2_protocol()
    assert result.messages[0] == {"role": "system", "content": protocol.agent_system_prompt(wiki)}
    assert result.messages[1] == {"role": "assistant", "content": protocol.greeting, "greeting": True}
    said = {"finish_reason": "stop"}  # each turn keeps how the model's answer ended
    assert result.messages[2] == {"role": "user", "content": task.instruction, **said}
    assert result.messages[-1] == {"role": "user", "content": STOP_MARKER, **said}


def test_the_same_verdicts_with_twenty_percent_transient_faults(tasks, wiki, gold_cache, expected):
    faults = Faults(rate=0.2, retry_after=0.01, seed=7)  # a "timeout" holds until the client gives up
    with ScriptedServer(tasks, faults=faults, api_key=KEY) as server:
        # A timeout far above any real answer's time on a loaded machine: only faults time out.
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False, timeout=4.0, retry_delay=0.01)
        results = run(tasks, wiki, llm, gold_cache, concurrency=32)
        stats = server.stats()
    assert verdicts(results) == expected  # as without faults (the test above)
    assert set(stats["faults"]) == {"429", "500", "503", "timeout", "disconnect", "garbage"}
    injected = sum(stats["faults"].values())
    assert 0.15 < injected / stats["requests"] < 0.25
    retries = sum(r.usage[side]["retries"] for r in results if r.usage for side in ("agent", "user"))
    waited = sum(r.usage[side]["rate_limited"] for r in results if r.usage for side in ("agent", "user"))
    assert waited == stats["faults"]["429"]  # a 429 is waited out, not a retry
    assert retries + waited == injected  # every fault was retried or waited out, and nothing else was


def test_malformed_agent_output_does_not_crash_the_episode(tasks, wiki, gold_cache):
    medium = [t for t in tasks if t.difficulty == "medium"][:60]
    faults = Faults(malformed_arguments=0.25, unknown_tool=0.25, parallel_calls=0.25)
    with ScriptedServer(medium, faults=faults, api_key=KEY) as server:
        results = run(medium, wiki, scripted_llm_config(server.base_url, KEY_ENV, cache=False), gold_cache)
        stats = server.stats()
    assert all(r.outcome in (PASSED, INVALID) for r in results)  # the scripted agent recovers each time
    assert min(stats["misbehaviour"].values()) >= 10
    calls = [c for r in results for c in r.tool_calls]
    malformed = [c for c in calls if "are not valid JSON" in c["result"]]
    unknown = [c for c in calls if c["result"].startswith("Error: Unknown tool 'lookup_")]
    # every call of a message runs (tau2 runs them all): the second, read-only one too
    second = [c for c in calls if c["name"] == PARALLEL_TOOL and c["arguments"] == PARALLEL_ARGUMENTS]
    assert len(malformed) == stats["misbehaviour"]["malformed_arguments"]
    assert len(unknown) == stats["misbehaviour"]["unknown_tool"]
    assert len(second) == stats["misbehaviour"]["parallel_calls"]
    assert all(c["is_error"] for c in malformed + unknown)
    assert all(c["executed"] and not c["is_error"] and c["result"] == "2.0" for c in second)
    for result in results:  # every tool call in the transcript got exactly one answer
        asked = [c["id"] for m in result.messages if m.get("tool_calls") for c in m["tool_calls"]]
        answered = [m["tool_call_id"] for m in result.messages if m["role"] == "tool"]
        assert asked == answered


def test_verdicts_do_not_depend_on_concurrency(tasks, wiki, gold_cache, expected):
    subset = tasks[95:135]
    with ScriptedServer(subset, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False)
        one_at_a_time = run(subset, wiki, llm, gold_cache, concurrency=1)
        many = run(subset, wiki, llm, gold_cache, concurrency=24)
    wanted = {k: v for k, v in expected.items() if k[0] in {t.id for t in subset}}
    assert verdicts(one_at_a_time) == verdicts(many) == wanted
    assert [r.messages for r in one_at_a_time] == [r.messages for r in many]


def test_a_second_identical_run_makes_no_request(tasks, wiki, gold_cache, tmp_path):
    subset = tasks[100:130]
    with ScriptedServer(subset, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache_dir=str(tmp_path))
        first = run(subset, wiki, llm, gold_cache)
        requests = server.stats()["requests"]
        again = run(subset, wiki, llm, gold_cache)
        assert server.stats()["requests"] == requests > 0
    assert [r.messages for r in again] == [r.messages for r in first]
    assert all(r.usage["agent"]["requests"] == 0 and r.usage["agent"]["cache_hits"] > 0 for r in again)


def test_trials_differ_by_seed_and_do_not_share_cached_answers(tasks, wiki, gold_cache, tmp_path):
    subset = tasks[100:104]
    with ScriptedServer(subset, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache_dir=str(tmp_path), seed=40)
        trial0 = run(subset, wiki, llm, gold_cache, trial=0)
        requests = server.stats()["requests"]
        trial1 = run(subset, wiki, llm, gold_cache, trial=1)
        assert server.stats()["requests"] == 2 * requests
    assert {r.seed for r in trial0} == {40} and {r.seed for r in trial1} == {41}


def test_the_budget_stops_starting_new_episodes(tasks, wiki, gold_cache, tmp_path):
    subset = [t for t in tasks if t.difficulty == "medium"][:40]
    prices = (("scripted-agent", 10.0, 10.0), ("scripted-user", 10.0, 10.0))
    with ScriptedServer(subset, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False, prices=prices)
        results = run(subset, wiki, llm, gold_cache, concurrency=1, budget=CostBudget(0.5))
    done = [r for r in results if not isinstance(r, NotStarted)]
    skipped = [r for r in results if isinstance(r, NotStarted)]
    spent = sum(r.usage["cost_usd"] or 0 for r in done)
    assert done and skipped and len(done) + len(skipped) == 40
    assert spent >= 0.5 and spent - done[-1].usage["cost_usd"] < 0.5  # stopped right after crossing it
    assert "--max-cost $0.5 reached" in skipped[0].reason


def test_processes_share_a_budget_through_the_ledger(tmp_path):
    first, second = CostBudget(1.0, tmp_path, "gw0"), CostBudget(1.0, tmp_path, "gw1")
    first.add(0.6)
    assert not second.exhausted() and second.spent() == pytest.approx(0.6)
    second.add(0.5)
    assert first.exhausted() and first.spent() == pytest.approx(1.1)


def test_a_configuration_error_stops_the_whole_run(tasks, wiki, gold_cache):
    with ScriptedServer(tasks[:50], api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False, user_model="gpt-typo")
        with pytest.raises(LLMConfigError, match="the user model 'gpt-typo' was not found"):
            run(tasks[:50], wiki, llm, gold_cache, concurrency=8)
        assert server.stats()["requests"] <= 8  # the episodes in flight, not all 50


def test_a_missing_key_is_reported_before_any_episode(tasks, wiki, gold_cache, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    llm = scripted_llm_config("http://127.0.0.1:9/v1", KEY_ENV)
    with pytest.raises(ConfigError, match=f"no API key: set the environment variable {KEY_ENV}"):
        run(tasks[:3], wiki, llm, gold_cache)


def test_an_llm_episode_needs_llm_settings(tasks, wiki, gold_cache):
    with pytest.raises(ConfigError, match="--agent-model"):
        run_episode(tasks[0], wiki, HarnessSettings(agent="llm"), gold_cache=gold_cache)


def test_the_user_simulator_prompt_holds_the_instruction_verbatim(tasks):
    instruction = tasks[120].instruction
    prompt = user_system_prompt(instruction)
    assert f"\n{instruction}\n" in prompt and instruction_from_prompt(prompt) == instruction
    assert STOP_MARKER in prompt and "only when the agent asks" in prompt


def test_the_user_simulator_talks_from_the_customer_side_and_stops_at_its_turn_limit(tasks):
    task = tasks[120]
    with ScriptedServer([task], api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False)
        from taugepa.llm.client import client_for

        user = LLMUserSimulator(
            client_for(llm.endpoint("user")), "scripted-user", task.instruction, max_turns=2
        )
        assert user.first_message() == task.instruction
        assert user.messages[1] == {"role": "user", "content": AGENT_GREETING}
        assert user.reply("Could you give me your user id?") == STOP_MARKER
        assert [m["role"] for m in user.messages] == ["system", "user", "assistant", "user", "assistant"]
        assert "limit of 2 messages" in user.reply("Anything else?") and user.turns == 2
        assert server.stats()["requests"] == 2 and len(user.calls) == 2


def test_usage_and_cost_are_in_the_scores_entries_and_summary(tasks, wiki, gold_cache):
    from taugepa.results.scores import episode_entry, summarize

    subset = tasks[150:160]
    prices = (("scripted-agent", 2.0, 8.0),)  # the user model stays without a price
    with ScriptedServer(subset, api_key=KEY) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False, prices=prices)
        results = run(subset, wiki, llm, gold_cache)
        requests = server.stats()["requests"]
    entries = [episode_entry(task, result.to_dict()) for task, result in zip(subset, results, strict=True)]
    entry = entries[0]["usage"]
    calls = entry["calls"]
    sides = Counter(c["side"] for c in calls)
    assert sides == {"agent": entry["agent"]["requests"], "user": entry["user"]["requests"]}
    agent_cost = sum(c["cost_usd"] for c in calls if c["side"] == "agent")
    tokens = entry["agent"]["prompt_tokens"] * 2 + entry["agent"]["completion_tokens"] * 8
    assert entry["agent"]["cost_usd"] == pytest.approx(agent_cost) == pytest.approx(tokens / 1e6)
    assert entry["user"]["cost_usd"] is None and entry["cost_usd"] is None  # tokens only, no guess
    usage = summarize(entries)["usage"]
    assert usage["agent"]["requests"] + usage["user"]["requests"] == requests
    assert usage["agent"]["cost_usd"] == pytest.approx(sum(e["usage"]["agent"]["cost_usd"] for e in entries))
    assert json.dumps(entries)  # serializable as is
