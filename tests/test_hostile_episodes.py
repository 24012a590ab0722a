"""The episode loop against a hostile model over real HTTP: a verdict, never a crash or a bad file.

Hypothesis writes what the scripted agent and user answer at the start of a conversation:
garbage, huge (past the 64 KiB limit) or 10,000-deep tool arguments, lone surrogates and
NULs, no content, unknown or endless tool names, several calls, tool calls that are not a
list, bodies that are not JSON, a first attempt trickled past the deadline. Whatever it
writes, `run_episode` returns a verdict, a rerun answered from the response cache returns
the same one (nothing cached can replay a crash), and the scores file is valid and small.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hostile_strategies import HOSTILE_SETTINGS, SURROGATE, hostile_text
from hypothesis import event, given, settings
from hypothesis import strategies as st

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.files import write_json_atomically
from taugepa.guards.limits import MAX_TOOL_ARGUMENT_CHARS
from taugepa.protocol import ERROR, OUTCOMES
from taugepa.results.scores import build_scores, episode_entry, load_scores
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.hostile import Hostile
from taugepa.testing.scripted_models import scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import tool_names

KEY_ENV, KEY = "TAUGEPA_TEST_HOSTILE_EPISODES_KEY", "sk-hostile-episodes-42"
DEADLINE = 2.0

arguments = st.one_of(
    st.just(""),
    st.text(max_size=30),
    st.integers(33, 12_000).map(lambda depth: "[" * depth + "]" * depth),
    st.sampled_from([MAX_TOOL_ARGUMENT_CHARS + 1, 1_000_000]).map(lambda n: json.dumps({"reason": "x" * n})),
    st.sampled_from(
        [
            '{"user_id": "\\ud800"}',
            '{"user_id": "mia_li_3668\\u0000"}',
            '{"amount": 1' + "0" * 40 + "}",
            '{"amount": 1e999}',
            "[1, 2]",
            "NaN",
            '{"reservation_id": ' + "[" * 40 + "]" * 40 + "}",
        ]
    ),
    st.just({"user_id": "mia_li_3668"}),  # an object instead of a JSON string, as some servers send
)
names = st.one_of(st.sampled_from(sorted(tool_names())), hostile_text, st.just("get_" * 5000))
tool_call = st.fixed_dictionaries(
    {
        "id": st.text(max_size=6),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": names, "arguments": arguments}),
    }
)
messages = st.one_of(
    st.fixed_dictionaries({"role": st.just("assistant"), "content": st.one_of(st.none(), hostile_text)}),
    st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.one_of(st.none(), hostile_text),
            "tool_calls": st.lists(tool_call, min_size=1, max_size=3),
        }
    ),
    st.sampled_from(
        [
            {"role": "assistant"},
            {"role": "assistant", "content": None, "tool_calls": "not a list"},
            {"role": "assistant", "tool_calls": [{"function": None}]},
            {"role": "assistant", "content": {"nested": "object"}},
        ]
    ),
)
bodies = st.sampled_from(
    [
        b"",
        b"null",
        b"[" * 100_000,
        b'{"choices": []}',
        b'{"choices": [{"message": {"content": "\\ud800 hi"}}]}',
        b'{"choices": [{"message": {"content": 1' + b"0" * 5000 + b"}}]}",
    ]
)
answers = st.lists(st.one_of(st.none(), messages, bodies), max_size=4).map(tuple)
user_answers = st.lists(
    st.one_of(st.none(), st.fixed_dictionaries({"role": st.just("assistant"), "content": hostile_text})),
    max_size=2,
).map(tuple)


@pytest.fixture(scope="module")
def tasks(synthetic_files):
    return load_tasks([str(synthetic_files[1])]).tasks[:3]


@pytest.fixture(scope="module")
def gold(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("hostile-gold"))


def play(task, hostile, cache_dir, gold):
    with ScriptedServer([task], hostile=hostile) as server:
        llm = scripted_llm_config(
            server.base_url, KEY_ENV, cache_dir=cache_dir, timeout=DEADLINE, max_retries=1, retry_delay=0.01
        )
        config = HarnessSettings(llm=llm, max_steps=12)
        first = run_episode(task, "Airline policy.", config, gold_cache=gold)
        again = run_episode(task, "Airline policy.", config, gold_cache=gold)  # from the cache
    return first, again


@given(
    number=st.integers(0, 2),
    agent=answers,
    user=user_answers,
    trickle=st.sampled_from([False] * 5 + [True]),  # each trickle costs one deadline
)
@settings(HOSTILE_SETTINGS, max_examples=25)
def test_whatever_the_model_sends_the_episode_ends_with_a_verdict(
    tasks, gold, monkeypatch_session, number, agent, user, trickle
):
    task = tasks[number]
    hostile = Hostile(
        agent_answers=agent,
        user_answers=user,
        wire="trickle_body" if trickle else None,
        wire_attempts=1,
        interval=0.5,
    )
    folder = Path(tempfile.mkdtemp(prefix="taugepa-hostile-"))
    try:
        first, again = play(task, hostile, str(folder / "llm"), gold)
        assert first.outcome in OUTCOMES and (first.outcome, first.reward) == (again.outcome, again.reward)
        event(first.outcome)
        path = folder / "scores.json"
        write_json_atomically(path, build_scores({"agent": "llm"}, [episode_entry(task, first.to_dict())]))
        loaded = load_scores(path)
        assert loaded.episodes[0]["outcome"] == first.outcome
        assert path.stat().st_size < 2_000_000  # clipped, however large the model's texts
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_ten_megabyte_argument_is_an_agent_error_and_stored_clipped(
    tasks, gold, monkeypatch_session, tmp_path
):
    huge = json.dumps({"user_id": "x" * 10_000_000})
    call = {"id": "c1", "type": "function", "function": {"name": "get_user_details", "arguments": huge}}
    hostile = Hostile(agent_answers=({"role": "assistant", "content": None, "tool_calls": [call]},))
    first, _ = play(tasks[0], hostile, str(tmp_path / "llm"), gold)
    record = first.tool_calls[0]
    assert record["is_error"] and record["result"] == (
        "Error: the arguments of your call to get_user_details are 10,000,015 characters long; "
        "at most 65,536 are accepted."
    )
    assert first.outcome != ERROR  # the agent's mistake, and the episode went on
    path = tmp_path / "scores.json"
    write_json_atomically(path, build_scores({}, [episode_entry(tasks[0], first.to_dict())]))
    assert path.stat().st_size < 200_000 and "[clipped by taugepa: 10,000,015 characters" in path.read_text()


def test_deeply_nested_arguments_do_not_crash_a_rerun_from_the_cache(
    tasks, gold, monkeypatch_session, tmp_path
):
    deep = "[" * 5000 + "]" * 5000
    call = {"id": "c1", "type": "function", "function": {"name": "get_user_details", "arguments": deep}}
    hostile = Hostile(
        agent_answers=({"role": "assistant", "content": f"x{SURROGATE}", "tool_calls": [call]},)
    )
    first, again = play(tasks[0], hostile, str(tmp_path / "llm"), gold)
    assert (
        first.tool_calls[0]["result"]
        == again.tool_calls[0]["result"]
        == (
            "Error: the arguments of your call to get_user_details nest 5,000 levels deep; "
            "at most 32 are accepted."
        )
    )
    assert (
        again.usage["agent"]["cache_hits"]
        == again.usage["agent"]["requests"] + again.usage["agent"]["cache_hits"]
    )


@pytest.fixture(scope="module")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        yield patch
