"""`taugepa rescore`: recorded tau-bench and tau2 runs rescored with taugepa's engine and scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.results.scores import load_scores

USER = "ethan_martin_2396"
GET_USER = {"name": "get_user_details", "arguments": {"user_id": USER}}
SEND_CERTIFICATE = {"name": "send_certificate", "arguments": {"user_id": USER, "amount": 150}}
TASK_16 = 16  # v1 test task 16: get_user_details, then send_certificate(150)


def tool_call(number: int, call: dict) -> dict:
    return {
        "id": f"call_{number}",
        "type": "function",
        "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
    }


def tau_bench_record(
    turns: list[tuple[str, object]], reward: float, task_id: int = TASK_16, trial: int = 0
) -> dict:
    """A tau-bench results entry; turns are ('user', text), ('say', text) or ('calls', [call, ...])."""
    traj: list[dict] = [{"role": "system", "content": "policy"}]
    number = 0
    for kind, value in turns:
        if kind == "user":
            traj.append({"role": "user", "content": value})
        elif kind == "say":
            traj.append({"role": "assistant", "content": value})
        else:
            calls = []
            for call in value:
                number += 1
                calls.append(tool_call(number, call))
            traj.append({"role": "assistant", "content": None, "tool_calls": calls})
            # tau-bench answered only the first call
            traj.append({"role": "tool", "tool_call_id": calls[0]["id"], "name": calls[0]["function"]["name"],
                         "content": "recorded result"})  # fmt: skip
    return {"task_id": task_id, "trial": trial, "reward": reward, "info": {}, "traj": traj}


def rescore(tmp_path: Path, v1_tasks_file: Path, records: list[dict], *extra: str) -> tuple[int, dict]:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(records))
    scores = tmp_path / "scores.json"
    code = main(["rescore", str(results), "--tasks", str(v1_tasks_file), "--scores-out", str(scores), *extra])
    return code, json.loads(scores.read_text()) if scores.exists() else {}


def test_gpt4o_sample_agrees_with_every_recorded_reward(shared_data, v1_tasks_file, tmp_path, capsys):
    sample = shared_data / "tau-bench-v1" / "gpt-4o-airline-sample.json"
    scores_path = tmp_path / "scores.json"
    code = main(
        ["rescore", str(sample), "--tasks", str(v1_tasks_file), "--scores-out", str(scores_path), "--strict"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "agreement with recorded rewards: 25/25" in out
    assert "recorded pass rate: 6/25" in out
    assert "rescored pass rate: 6/25" in out
    assert "disagreements: none" in out
    scores = load_scores(scores_path)
    assert scores.summary["counts"] == {"passed": 6, "failed": 19, "invalid": 0, "error": 0}
    assert [e["task_id"] for e in scores.episodes] == [f"test-{i:02d}" for i in range(25)]
    recorded = {r["task_id"]: r["reward"] for r in json.loads(sample.read_text())}
    for entry in scores.episodes:
        assert entry["score"] == recorded[int(entry["task_id"][5:])]
        assert entry["recorded"]["agrees"] is True
    assert scores.run["agent"] == "replay"
    assert scores.summary["pass_k"]["values"] == {"1": pytest.approx(0.24)}


def test_only_the_first_tool_call_of_a_message_is_executed(tmp_path, v1_tasks_file, capsys):
    both_at_once = [("user", "I want compensation"), ("calls", [GET_USER, SEND_CERTIFICATE]),
                    ("say", "Done."), ("user", "thanks ###STOP###")]  # fmt: skip
    one_by_one = [("user", "I want compensation"), ("calls", [GET_USER]), ("calls", [SEND_CERTIFICATE]),
                  ("say", "Done."), ("user", "thanks ###STOP###")]  # fmt: skip
    code, scores = rescore(
        tmp_path,
        v1_tasks_file,
        [tau_bench_record(both_at_once, 0.0), tau_bench_record(one_by_one, 1.0, trial=1)],
    )
    assert code == 0
    assert "agreement with recorded rewards: 2/2" in capsys.readouterr().out
    skipped = scores["episodes"][0]["tool_calls"][1]
    assert (skipped["name"], skipped["executed"]) == ("send_certificate", False)
    assert [e["outcome"] for e in scores["episodes"]] == ["failed", "passed"]


def test_no_reward_unless_the_user_stops_and_disagreements_are_listed(tmp_path, v1_tasks_file, capsys):
    never_stopped = [("user", "I want compensation"), ("calls", [GET_USER]), ("calls", [SEND_CERTIFICATE]),
                     ("say", "Done."), ("user", "ok, and what else?")]  # fmt: skip
    code, scores = rescore(tmp_path, v1_tasks_file, [tau_bench_record(never_stopped, 1.0)], "--strict")
    out = capsys.readouterr().out
    assert code == 1  # --strict: a disagreement fails the command
    assert "agreement with recorded rewards: 0/1" in out
    assert "test-16#0: recorded reward 1, rescored failed: The episode did not end properly" in out
    assert scores["episodes"][0]["recorded"]["agrees"] is False


def test_a_transfer_ends_the_episode(tmp_path, v1_tasks_file):
    transfer = {"name": "transfer_to_human_agents", "arguments": {"summary": "needs a human"}}
    turns = [("user", "hi"), ("calls", [transfer])]
    code, scores = rescore(tmp_path, v1_tasks_file, [tau_bench_record(turns, 0.0, task_id=13)])
    assert scores["episodes"][0]["termination"] == "transfer"


def test_required_outputs_count_only_in_replies_to_the_user(tmp_path, v1_tasks_file):
    # v1 test task 44 is read-only and requires the output "4"
    reads = [{"name": "get_reservation_details", "arguments": {"reservation_id": "JMO1MG"}},
             {"name": "get_user_details", "arguments": {"user_id": "anya_garcia_5901"}}]  # fmt: skip
    said_with_call = tau_bench_record(
        [("user", "how many?"), ("calls", reads[:1]), ("calls", reads[1:]), ("say", "Anything else?"),
         ("user", "no ###STOP###")], 0.0, task_id=44)  # fmt: skip
    said_with_call["traj"][3]["content"] = "You have 4 of them."  # text beside a tool call
    said_to_user = tau_bench_record(
        [("user", "how many?"), ("calls", reads[:1]), ("calls", reads[1:]), ("say", "You have 4 of them."),
         ("user", "ok ###STOP###")], 1.0, task_id=44, trial=1)  # fmt: skip
    code, scores = rescore(tmp_path, v1_tasks_file, [said_with_call, said_to_user])
    outcomes = [(e["outcome"], e["outputs_missing"]) for e in scores["episodes"]]
    assert outcomes == [("failed", ["4"]), ("passed", [])]


def test_a_run_the_harness_could_not_finish_is_an_error_not_a_failure(tmp_path, v1_tasks_file, capsys):
    crashed = {"task_id": TASK_16, "trial": 0, "reward": 0.0, "info": {"error": "context length"}, "traj": []}
    code, scores = rescore(tmp_path, v1_tasks_file, [crashed])
    out = capsys.readouterr().out
    entry = scores["episodes"][0]
    assert (entry["outcome"], entry["score"]) == ("error", None)
    assert "context length" in entry["feedback"]
    assert "rescored pass rate: 0/0 · 0 invalid · 1 errors" in out
    assert "test-16#0: recorded reward 0, rescored error" in out


def test_wrong_task_file_is_one_line_and_writes_nothing(tmp_path, shared_data, synthetic_files, capsys):
    sample = shared_data / "tau-bench-v1" / "gpt-4o-airline-sample.json"
    scores = tmp_path / "scores.json"
    code = main(["rescore", str(sample), "--tasks", str(synthetic_files[1]), "--scores-out", str(scores)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "records a different task than medium-000" in err and "pass the task file" in err
    assert not scores.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '[{"task_id": 1, "trial": 0, "reward": 0, "traj": []}, {"task_id": 1, "trial": 0, "reward": 1, '
            '"traj": []}]',
            "two recorded runs of task 1, trial 0",
        ),  # fmt: skip
        ("{not json", "not a readable JSON results file"),
        ('{"a": 1}', "neither a tau-bench results file"),
        ('[{"task_id": 0}]', "expected an object with task_id, trial, reward, info and traj"),
        ("[]", "contains no recorded runs"),
    ],
)
def test_bad_results_files_are_one_line(tmp_path, v1_tasks_file, capsys, content, message):
    results = tmp_path / "results.json"
    results.write_text(content)
    code = main(["rescore", str(results), "--tasks", str(v1_tasks_file), "--scores-out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def tau2_results(path: Path) -> None:
    """A tau2 results file for tau2 task 27 whose agent makes both gold calls in ONE message.

    The reward comes from tau2's own evaluator, so agreement is checked against tau2 itself.
    """
    from tau2.data_model.message import AssistantMessage, ToolCall, UserMessage
    from tau2.data_model.simulation import (
        AgentInfo,
        Info,
        Results,
        SimulationRun,
        TerminationReason,
        UserInfo,
    )
    from tau2.domains.airline.environment import get_environment, get_tasks
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    task = next(t for t in get_tasks() if t.id == "27")
    environment = get_environment()
    calls = [
        ToolCall(id=f"c{n}", requestor="assistant", **call)
        for n, call in enumerate([GET_USER, SEND_CERTIFICATE])
    ]
    messages = [
        AssistantMessage(role="assistant", content="Hi! How can I help you today?"),
        UserMessage(role="user", content="My flight was delayed; I want compensation."),
        AssistantMessage(role="assistant", content=None, tool_calls=calls),
        *[environment.get_response(call) for call in calls],
        AssistantMessage(role="assistant", content="I sent you a $150 certificate."),
        UserMessage(role="user", content="Thanks! ###STOP###"),
    ]
    for number, message in enumerate(messages):
        message.turn_idx = number
    simulation = SimulationRun(
        id="run-1", task_id="27", start_time="s", end_time="e", duration=1.0,
        termination_reason=TerminationReason.USER_STOP, messages=messages, trial=0,
    )  # fmt: skip
    simulation.reward_info = evaluate_simulation(
        simulation, task, EvaluationType.ALL, solo_mode=False, domain="airline"
    )
    info = Info(
        git_commit="test", num_trials=1, max_steps=30, max_errors=10,
        user_info=UserInfo(implementation="user_simulator"), agent_info=AgentInfo(implementation="llm_agent"),
        environment_info=environment.get_info(),
    )  # fmt: skip
    Results(info=info, tasks=[task], simulations=[simulation]).save(path)


def test_tau2_results_file_executes_every_call_and_agrees_with_tau2(tmp_path, capsys):
    results = tmp_path / "tau2-results.json"
    tau2_results(results)
    assert json.loads(results.read_text())["simulations"][0]["reward_info"]["reward"] == 1.0
    scores = tmp_path / "scores.json"
    code = main(["rescore", str(results), "--tasks", "tau2-airline", "--scores-out", str(scores), "--strict"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "agreement with recorded rewards: 1/1" in out and "(tau2)" in out
    entry = load_scores(scores).episodes[0]
    assert entry["task_id"] == "tau2-27" and entry["outcome"] == "passed"
    assert [(c["name"], c["executed"]) for c in entry["tool_calls"]] == [
        ("get_user_details", True),
        ("send_certificate", True),
    ]
    assert entry["messages"][0]["content"].startswith("# Airline Agent Policy")  # tau2's policy as system


def test_invalid_tau2_results_file_is_one_line(tmp_path, capsys):
    results = tmp_path / "tau2-results.json"
    results.write_text(json.dumps({"simulations": [{"id": 1}]}))
    code = main(["rescore", str(results), "--tasks", "tau2-airline", "--scores-out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is not a valid tau2 results file" in err and len(err.splitlines()) == 1
