"""Episodes that meet the model's limits, against a proxy that answers as providers do.

A request that no longer fits (HTTP 400 `context_length_exceeded`), an answer cut at the token
limit, one withheld by a content filter and a refusal each end the episode with its own
termination and feedback; none is a configuration error, and the run goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.llm.answer_ends import answer_end, context_overflow
from taugepa.llm.cache import ResponseCache
from taugepa.protocol import ERROR, FAILED, PASSED
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.provider_proxy import ProviderFaults, ProviderProxy, context_overflow_body
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV = "TAUGEPA_TEST_ENDS_KEY"
KEY = "sk-test-model-ends-8d1c2b7a9f3e"


@pytest.fixture(scope="module", autouse=True)
def api_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        yield


@pytest.fixture(scope="module")
def task(v1_tasks_file):
    return load_tasks([str(v1_tasks_file)]).tasks[1]


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def wiki(v1_wiki):
    return v1_wiki.read_text()


def episode(task, wiki, gold_cache, faults, cache_dir=None):
    with ScriptedServer([task], api_key=KEY) as server, ProviderProxy(server.base_url, faults) as proxy:
        llm = scripted_llm_config(proxy.base_url, KEY_ENV, cache=cache_dir is not None, cache_dir=cache_dir)
        result = run_episode(task, wiki, HarnessSettings(agent="llm", llm=llm), gold_cache=gold_cache)
        return result, proxy


def test_the_scripted_episode_passes_through_the_proxy_and_records_each_turns_finish_reason(
    task, wiki, gold_cache
):
    result, _ = episode(task, wiki, gold_cache, ProviderFaults())
    assert result.outcome == PASSED and not result.model_end
    agent_turns = [m for m in result.messages if m["role"] == "assistant" and m is not result.messages[1]]
    agent_turns = [m for m in agent_turns if m.get("tool_calls") or m.get("finish_reason")]  # not a greeting
    user_turns = [m for m in result.messages if m["role"] == "user"]
    assert {m["finish_reason"] for m in agent_turns} == {"stop", "tool_calls"}
    assert {m.get("finish_reason") for m in user_turns} == {"stop"}


def test_a_request_that_no_longer_fits_ends_the_episode_and_says_what_grew(task, wiki, gold_cache):
    _, measured = episode(task, wiki, gold_cache, ProviderFaults())
    tokens = measured.largest_request - 1  # the wiki and tools fit; the last request does not
    result, proxy = episode(task, wiki, gold_cache, ProviderFaults(context_tokens=tokens))
    assert proxy.answered["context_length_exceeded"] == 1  # never retried, never a configuration error
    assert result.outcome == FAILED and result.termination == "context_overflow" and result.score == 0.0
    end = result.model_end
    assert end["side"] == "agent" and end["grew"] == "conversation" and end["limit_tokens"] == tokens
    assert end["over_tokens"] == end["requested_tokens"] - tokens > 0
    first = result.feedback.splitlines()[0]
    assert first.startswith("The agent model's request no longer fits its context (context_overflow): ")
    system = len(result.messages[0]["content"])  # the wiki, in the protocol's system prompt
    assert f"({end['over_tokens']:,} over); what grew: the conversation (wiki {system:,} chars" in first


def test_a_wiki_that_does_not_fit_at_all_is_named_as_what_grew(task, wiki, gold_cache):
    result, _ = episode(task, wiki * 3, gold_cache, ProviderFaults(context_tokens=len(wiki) // 4))
    assert result.termination == "context_overflow" and result.model_end["grew"] == "wiki"
    assert result.outcome == FAILED


def test_what_counts_as_an_overflow(task, wiki, gold_cache):
    overflow = context_overflow(
        400, context_overflow_body(100, 250), "user", "m", "maximum context length is 100"
    )
    assert overflow is not None and overflow.side == "user" and overflow.limit == 100
    said = context_overflow_body(8192, 9000)["error"]["message"]
    assert context_overflow(400, {}, "agent", "m", said).over == 808  # from the text alone
    assert (
        context_overflow(400, {"error": {"code": "invalid_value"}}, "agent", "m", "bad temperature") is None
    )
    assert context_overflow(500, context_overflow_body(1, 2), "agent", "m", "context length") is None


@pytest.mark.parametrize(
    ("kind", "termination", "line"),
    [
        (
            "length",
            "answer_cut",
            "The agent model's answer was cut at its token limit (finish_reason length)",
        ),
        (
            "content_filter",
            "content_filter",
            "The provider's content filter withheld the agent model's answer",
        ),
        ("refusal", "refusal", "The agent model refused (refusal): \"I'm sorry, but I can't help"),
    ],
)
def test_a_cut_filtered_or_refused_agent_answer_ends_the_episode_as_such(
    task, wiki, gold_cache, tmp_path, kind, termination, line
):
    result, proxy = episode(task, wiki, gold_cache, ProviderFaults(finish={1: kind}), cache_dir=tmp_path)
    assert result.outcome == FAILED and result.termination == termination
    assert result.feedback.startswith(line)
    last = result.messages[-1]
    assert last["role"] == "assistant" and answer_end(last) == termination
    if kind == "refusal":
        assert last["refusal"].startswith("I'm sorry") and result.model_end["refusal"] == last["refusal"]
    else:
        assert last["finish_reason"] == kind
    assert not [
        m for m in result.messages[result.messages.index(last) :] if m["role"] == "tool"
    ]  # nothing ran
    # A cut answer is asked for once more, and never cached as an answer.
    assert proxy.answered[kind] == (2 if kind == "length" else 1)
    cached_bodies = [ResponseCache(tmp_path).get(path.stem) for path in tmp_path.rglob("*.json")]
    finishes = [b["choices"][0].get("finish_reason") for b in cached_bodies if b]
    assert "length" not in finishes and "content_filter" not in finishes


def test_a_refusing_user_simulator_ends_the_episode_as_an_error_not_the_agents_failure(
    task, wiki, gold_cache
):
    result, _ = episode(task, wiki, gold_cache, ProviderFaults(user_finish={1: "refusal"}))
    assert result.outcome == ERROR and result.termination == "refusal" and result.score is None
    assert result.feedback.startswith("The user simulator model refused (refusal): ")
    assert result.feedback.endswith("Not the agent's fault.")
    refused = [m for m in result.messages if m["role"] == "user" and m.get("refusal")]
    assert len(refused) == 1


def test_a_benchmark_run_with_overflowing_episodes_goes_on_and_keeps_its_scores_file(
    tmp_path, v1_tasks_file, v1_wiki
):
    tasks = load_tasks([str(v1_tasks_file)]).tasks[:8]
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, KEY_ENV: KEY}
    # Longer episodes need longer requests: a limit between the shortest and the longest
    # request of the run lets some episodes through and stops the others.
    with ScriptedServer(tasks, api_key=KEY) as server, ProviderProxy(server.base_url) as measure:
        command = [sys.executable, "-m", "pytest", str(repo / "benchmarks"), "-p", "no:cacheprovider", "-q"]
        command += ["--tasks", str(v1_tasks_file), "-k", " or ".join(t.id for t in tasks)]
        command += ["--wiki", str(v1_wiki), "--agent-model", AGENT_MODEL, "--user-model", USER_MODEL]
        command += ["--api-key-env", KEY_ENV, "--llm-cache", str(tmp_path / "cache")]
        first = subprocess.run(
            [*command, "--base-url", measure.base_url, "--scores-out", str(tmp_path / "whole.json")],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert first.returncode == 0, first.stdout[-2000:]
        limit = measure.largest_request * 9 // 10
        with ProviderProxy(server.base_url, ProviderFaults(context_tokens=limit)) as proxy:
            run = [*command, "--base-url", proxy.base_url, "--no-llm-cache"]
            outcome = subprocess.run(
                [*run, "--scores-out", str(tmp_path / "scores.json")],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )
    assert outcome.returncode == 1, outcome.stdout[-3000:] + outcome.stderr  # failed episodes, no gate
    scores = json.loads((tmp_path / "scores.json").read_text())
    ended = scores["summary"]["ended"]["context_overflow"]
    counts = scores["summary"]["counts"]
    assert ended >= 1 and counts["passed"] >= 1 and counts["passed"] + counts["failed"] == 8
    overflowed = [e for e in scores["episodes"] if e["termination"] == "context_overflow"]
    assert all(e["failure"]["cause"] == "model_limit" and e["model_end"]["grew"] for e in overflowed)
    assert f"· ended {ended} by context overflow" in outcome.stdout
    assert "The agent model's request no longer fits its context (context_overflow)" in outcome.stdout
    assert "fix the configuration" not in outcome.stdout


def test_the_html_page_shows_the_ending_and_the_refused_turn():
    from taugepa.results.transcript import render_episode_body

    entry = {
        "task_id": "t-1",
        "trial": 0,
        "outcome": "failed",
        "termination": "refusal",
        "feedback": 'The agent model refused (refusal): "No."',
        "messages": [
            {"role": "user", "content": "hi", "finish_reason": "stop"},
            {"role": "assistant", "content": "", "refusal": "No <b>way</b>.", "finish_reason": "stop"},
            {"role": "assistant", "content": "half", "finish_reason": "length"},
        ],
    }
    page = render_episode_body(entry)
    assert "failed <span" in page and "(ended by refusal)" in page
    assert "refused: No &lt;b&gt;way&lt;/b&gt;." in page and "finish_reason: length" in page
    assert "finish_reason: stop" not in page  # the usual endings go unsaid


def test_both_attempts_of_a_cut_answer_are_paid_for():
    from taugepa.llm.answer_ends import with_cut_attempt
    from taugepa.llm.usage import CallUsage

    cut = CallUsage("agent", "m", 100, 50, cached=False, retries=0, cost_usd=0.5)
    again = CallUsage("agent", "m", 100, 20, cached=False, retries=1, cost_usd=0.25)
    both = with_cut_attempt(cut, again)
    assert (both.prompt_tokens, both.completion_tokens, both.cost_usd, both.retries) == (200, 70, 0.75, 1)
    unpriced = CallUsage("agent", "m", 1, 1, cached=False, retries=0, cost_usd=None)
    assert with_cut_attempt(unpriced, again).cost_usd is None
