"""The episode loop and its verdicts, driven by built-in and scripted agents (no LLM)."""

from __future__ import annotations

import json

import pytest

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError, InfrastructureError
from taugepa.protocol import ERROR, FAILED, INVALID, PASSED
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks

WIKI = "You are an airline agent. Follow the policy."


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def all_tasks(synthetic_files, v1_tasks_file):
    return load_tasks([*map(str, synthetic_files), str(v1_tasks_file), TAU2_AIRLINE]).by_id()


def run(task, agent="oracle", gold_cache=None, **factories):
    return run_episode(task, WIKI, HarnessSettings(agent=agent), gold_cache=gold_cache, **factories)


def tool_call(name, arguments, call_id="call_1"):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class ScriptedAgent:
    """Plays a fixed list of assistant messages, then says goodbye."""

    def __init__(self, replies):
        self.replies = list(replies)

    def act(self, messages):
        return self.replies.pop(0) if self.replies else {"role": "assistant", "content": "Goodbye."}


def scripted(*replies):
    return {"make_agent": lambda context: ScriptedAgent(replies)}


def test_oracle_passes_every_valid_task_and_null_only_free_passes(all_tasks, gold_cache):
    empty = run_episode(
        all_tasks["easy-000"], WIKI, HarnessSettings(agent="null"), gold_cache=gold_cache
    ).db_digest
    outcomes = {"oracle": {}, "null": {}}
    for task in all_tasks.values():
        for agent in outcomes:
            outcomes[agent][task.id] = run(task, agent, gold_cache).outcome
    invalid = {i for i, o in outcomes["oracle"].items() if o == INVALID}
    assert len(invalid) == 7
    assert all(o == PASSED for i, o in outcomes["oracle"].items() if i not in invalid)
    free = {
        t.id
        for t in all_tasks.values()
        if t.id not in invalid and gold_cache.get(t).db_digest == empty and not t.outputs
    }
    assert {i for i, o in outcomes["null"].items() if o == PASSED} == free
    assert {i for i in free if i.startswith("easy")} == {i for i in all_tasks if i.startswith("easy")}
    assert len(free) == 100 + 19 + 19  # every easy task, 19 of v1's test tasks, 19 of tau2's


def test_invalid_task_reports_the_engine_error(all_tasks, gold_cache):
    result = run(all_tasks["medium-039"], gold_cache=gold_cache)
    assert result.outcome == INVALID and result.score is None
    assert "gold action 3 (book_reservation) fails in the engine" in result.feedback


@pytest.mark.parametrize("protocol", ["tau2", "taugepa"])
def test_every_tool_call_of_a_message_runs_in_order(all_tasks, gold_cache, protocol):
    task = all_tasks["test-01"]  # gold: cancel_reservation only
    (action,) = task.actions
    certificate = {"user_id": task.user_id, "amount": 500}
    reply = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            tool_call(action.name, json.dumps(action.kwargs), "a"),
            tool_call("send_certificate", json.dumps(certificate), "b"),
        ],
    }
    settings = HarnessSettings(agent="oracle", protocol=protocol)
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(reply))
    assert result.outcome == FAILED  # the certificate was sent too
    assert [(c["name"], c["executed"], c["is_error"]) for c in result.tool_calls] == [
        (action.name, True, False),
        ("send_certificate", True, False),
    ]
    tool_messages = [m for m in result.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["a", "b"]
    assert "send_certificate" in result.feedback


def test_a_v1_replay_runs_only_the_first_tool_call_of_a_message(all_tasks, gold_cache):
    task = all_tasks["test-01"]
    (action,) = task.actions
    reply = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            tool_call(action.name, json.dumps(action.kwargs), "a"),
            tool_call("send_certificate", json.dumps({"user_id": task.user_id, "amount": 500}), "b"),
        ],
    }
    settings = HarnessSettings(agent="oracle", protocol="taugepa", first_call_only=True)
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(reply))
    assert result.outcome == PASSED  # the certificate was never sent
    skipped = result.tool_calls[1]
    assert not skipped["executed"] and "only one tool call per message" in skipped["result"]


def test_malformed_arguments_and_unknown_tools_do_not_end_the_episode(all_tasks, gold_cache):
    task = all_tasks["test-01"]
    (action,) = task.actions
    result = run(
        task,
        gold_cache=gold_cache,
        **scripted(
            {"role": "assistant", "tool_calls": [tool_call(action.name, '{"reservation_id": ')]},
            {"role": "assistant", "tool_calls": [tool_call("cancel_everything", "{}")]},
            {"role": "assistant", "tool_calls": [tool_call(action.name, json.dumps(action.kwargs))]},
        ),
    )
    assert result.outcome == PASSED
    errors = [c["result"] for c in result.tool_calls if c["is_error"]]
    assert "are not valid JSON" in errors[0] and "Unknown tool 'cancel_everything'" in errors[1]


def test_max_steps_gives_no_reward_even_with_the_right_database(all_tasks, gold_cache):
    task = all_tasks["easy-000"]  # read-only gold: the database is right from the start
    looping = [{"role": "assistant", "tool_calls": [tool_call("list_all_airports", "{}")]}] * 40
    settings = HarnessSettings(agent="oracle", protocol="taugepa", max_steps=5)
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(*looping))
    assert result.outcome == FAILED and result.termination == "max_steps" and result.steps == 5
    assert "did not end properly (max steps)" in result.feedback
    # tau2 counts every message: the user's opening, then each agent message and its results
    settings = HarnessSettings(agent="oracle", protocol="tau2", max_steps=5)
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(*looping))
    assert result.outcome == FAILED and result.termination == "max_steps" and result.steps == 2
    assert "tau2 gives no reward unless the user ends the conversation" in result.feedback


def test_tau2_stops_after_too_many_tool_errors(all_tasks, gold_cache):
    failing = [{"role": "assistant", "tool_calls": [tool_call("get_reservation_details", "{}")]}] * 20
    settings = HarnessSettings(agent="oracle", protocol="tau2")
    result = run_episode(all_tasks["easy-000"], WIKI, settings, gold_cache=gold_cache, **scripted(*failing))
    assert result.termination == "too_many_errors" and result.outcome == FAILED
    assert len(result.tool_calls) == 10 and all(c["is_error"] for c in result.tool_calls)


def test_transfer_and_agent_stop_end_the_episode_under_taugepas_protocol(all_tasks, gold_cache):
    task = all_tasks["test-13"]  # gold: transfer_to_human_agents
    transfer = {
        "role": "assistant",
        "tool_calls": [tool_call("transfer_to_human_agents", '{"summary": "x"}')],
    }
    settings = HarnessSettings(agent="oracle", protocol="taugepa")
    after = {"role": "assistant", "content": "never said"}
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(transfer, after))
    assert result.termination == "transfer" and result.outcome == PASSED
    assert all(m.get("content") != "never said" for m in result.messages)
    bye = {"role": "assistant", "content": "Bye ###STOP###"}
    stop = run_episode(all_tasks["easy-000"], WIKI, settings, gold_cache=gold_cache, **scripted(bye))
    assert stop.termination == "agent_stop" and stop.outcome == PASSED
    # under tau2's, neither ends it: the user does, after the agent's next text
    settings = HarnessSettings(agent="oracle", protocol="tau2")
    result = run_episode(task, WIKI, settings, gold_cache=gold_cache, **scripted(transfer, after))
    assert result.termination == "user_stop" and result.outcome == PASSED
    assert [m["role"] for m in result.messages] == ["system", "assistant", "user", "assistant", "tool"] + [
        "assistant",
        "user",
    ]
    assert result.messages[-2]["content"] == "never said" and result.messages[1]["greeting"]
    stop = run_episode(all_tasks["easy-000"], WIKI, settings, gold_cache=gold_cache, **scripted(bye))
    assert stop.termination == "user_stop" and stop.outcome == PASSED


def test_required_outputs_follow_tau_bench_matching(all_tasks, gold_cache):
    task = all_tasks["test-44"]  # outputs ["4"], no writes
    said = run(task, gold_cache=gold_cache, **scripted({"role": "assistant", "content": "You have 4 bags."}))
    assert said.outcome == PASSED
    silent = run(task, gold_cache=gold_cache, **scripted({"role": "assistant", "content": "Bye."}))
    assert silent.outcome == FAILED and silent.outputs_missing == ["4"]
    assert 'Missing required outputs: "4"' in silent.feedback
    commas = run(all_tasks["test-02"], gold_cache=gold_cache)  # oracle says "23553"
    assert commas.outcome == PASSED
    tau2 = all_tasks["tau2-7"]  # outputs ["1628"]: "1,628" counts once commas are removed
    written_out = [
        *(
            {"role": "assistant", "tool_calls": [tool_call(a.name, json.dumps(a.kwargs), f"c{i}")]}
            for i, a in enumerate(tau2.actions)
        ),
        {"role": "assistant", "content": "The total is $1,628."},
    ]
    assert run(tau2, gold_cache=gold_cache, **scripted(*written_out)).outcome == PASSED


def test_feedback_names_the_first_divergence_with_argument_differences(all_tasks, gold_cache):
    task = all_tasks["test-01"]
    (action,) = task.actions
    wrong = {**action.kwargs, "reservation_id": "NQNU5R"}
    result = run(
        task,
        gold_cache=gold_cache,
        **scripted({"role": "assistant", "tool_calls": [tool_call(action.name, json.dumps(wrong))]}),
    )
    assert result.outcome == FAILED
    want = action.kwargs["reservation_id"]
    divergence = f'(cancel_reservation): reservation_id: expected "{want}", got "NQNU5R"'
    assert f"First divergence at write 1 {divergence}" in result.feedback
    assert "Expected writes (1): cancel_reservation(" in result.feedback


def test_infrastructure_errors_are_not_agent_failures(all_tasks, gold_cache):
    class BrokenAgent:
        def act(self, messages):
            raise InfrastructureError("endpoint returned 503 five times")

    result = run(all_tasks["easy-000"], gold_cache=gold_cache, make_agent=lambda *a: BrokenAgent())
    assert result.outcome == ERROR and result.score is None and result.termination == "error"
    assert "not the agent's fault" in result.feedback and "503" in result.feedback


def test_config_is_validated():
    with pytest.raises(ConfigError, match="unknown --agent 'gpt': choose one of llm, oracle, null"):
        HarnessSettings(agent="gpt")
    with pytest.raises(ConfigError, match="at least 1"):
        HarnessSettings(agent="oracle", max_steps=-1)
    with pytest.raises(ConfigError, match="unknown protocol 'tau3'"):
        HarnessSettings(agent="oracle", protocol="tau3")
    assert HarnessSettings(agent="oracle").max_steps == 200  # tau2's default (every message a step)
    assert HarnessSettings(agent="oracle", protocol="taugepa").max_steps == 30  # agent messages
    assert HarnessSettings(agent="oracle").replace(protocol="taugepa").max_steps == 30
    assert HarnessSettings(agent="oracle", max_steps=7).replace(protocol="taugepa").max_steps == 7
