"""Failure causes: a scripted run with deviating simulated users, and each rule on a transcript."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.optimize.reflection_records import reflective_records
from taugepa.results.compare_causes import cause_shift, cause_shift_lines
from taugepa.results.failure_analysis import CAUSES, analyze_failure
from taugepa.results.scores import load_scores
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_deviations import (
    DEVIANT_USER_MODEL,
    INVENTED_RESERVATION,
    TRUSTING_AGENT_MODEL,
    deviation_models,
    mixed_scenario,
)
from taugepa.testing.scripted_models import Conduct
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import write_tool_names

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_CAUSES_TEST_KEY"


@pytest.fixture(scope="module")
def medium(synthetic_files):
    path = synthetic_files[1]
    return path, load_tasks([str(path)]).tasks


@pytest.fixture(scope="module")
def clean_tasks():
    """The built-in generated set: every task passes the audit, so no failure is the task's."""
    return load_tasks(["taugepa-airline"]).tasks


def test_a_scripted_run_blames_the_simulator_for_its_deviations_and_the_agent_for_the_rest(
    tmp_path, clean_tasks
):
    scenario = mixed_scenario(clean_tasks)
    chosen = scenario.tasks
    server = ScriptedServer(
        chosen,
        conduct=Conduct(confirm_writes=True),
        plays=scenario.plays,
        extra_models=deviation_models(scenario.deviations),
    )
    env = {**os.environ, KEY_ENV: "any"}
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", "taugepa-airline", "-k", " or ".join(t.id for t in chosen)]
    command += ["--scores-out", "scores.json"]
    command += ["--agent-model", TRUSTING_AGENT_MODEL, "--user-model", DEVIANT_USER_MODEL, "--no-llm-cache"]
    with server:
        command += ["--base-url", server.base_url, "--api-key-env", KEY_ENV]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert "5 failed, 3 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    scores = load_scores(tmp_path / "scores.json")
    causes = {e["task_id"]: e["failure"]["cause"] for e in scores.episodes if e["outcome"] == "failed"}
    assert causes == scenario.expected
    wrong, drop, extra, invent, stop = (t.id for t in chosen[:5])
    by_id = {e["task_id"]: e for e in scores.episodes}
    assert INVENTED_RESERVATION in by_id[invent]["failure"]["detail"]
    assert "wrong total_baggages" in by_id[wrong]["failure"]["detail"]
    failures = scores.summary["failures"]
    assert failures["by_blame"] == {"agent": 3, "user_simulator": 2, "task": 0}
    assert failures["pass_rate_without_simulator"] == pytest.approx(3 / 6)
    # the verdict block counts them, the simulator's apart; the one-line failures start with the cause
    assert "(2 blamed on the user simulator; pass rate without them 50.0%)" in run.stdout
    assert "[user simulator invented a detail [user simulator]]" in run.stdout
    assert "[missing write] " in run.stdout
    # the report groups them (two examples per cause) and the reflection records say whose fault
    main(["report", str(tmp_path / "scores.json"), "--out", str(tmp_path / "report.html")])
    page = (tmp_path / "report.html").read_text()
    assert "Failure causes: scores" in page and 'data-cause="user_ended_early"' in page
    records = {r["Inputs"]["task_id"]: r for r in reflective_records(scores.episodes)}
    assert "do not change the policy" in records[invent]["Failure cause"]
    assert "do not change the policy" in records[stop]["Failure cause"]
    assert records[drop]["Failure cause"].startswith("cause: missing write (")
    assert "do not change the policy" not in records[drop]["Failure cause"]


def _result(task, *, messages=(), calls=(), termination="user_stop", outputs_missing=(), compliance=None):
    writes = write_tool_names()
    return {
        "outcome": "failed",
        "termination": termination,
        "messages": [{"role": "system", "content": "policy"}, *messages],
        "tool_calls": [
            {"step": n, "name": name, "arguments": args, "result": "Error: no" if error else "ok",
             "is_error": error, "executed": True}
            for n, (name, args, error) in enumerate(calls, start=1)
        ],
        "expected_writes": [a.to_dict() for a in task.actions if a.name in writes],
        "outputs_missing": list(outputs_missing),
        "compliance": compliance or {},
        "feedback": "The final database does not match the gold outcome.",
    }


def _writes(task):
    writes = write_tool_names()
    return [(a.name, a.kwargs, False) for a in task.actions if a.name in writes]


@pytest.fixture(scope="module")
def two_writes(medium):
    writes = write_tool_names()
    return next(t for t in medium[1] if len([a for a in t.actions if a.name in writes]) >= 2)


def test_each_agent_cause(two_writes):
    task = two_writes
    done = _writes(task)
    opening = {"role": "user", "content": task.instruction}

    def cause(**kwargs):
        return analyze_failure(task, _result(task, messages=[opening], **kwargs)).cause

    assert cause(calls=done[:1]) == "missing_write"
    assert cause(calls=list(reversed(done))) == "writes_wrong_order"
    assert cause(calls=[*done, ("cancel_reservation", {"reservation_id": "ABC123"}, False)]) == "extra_write"
    assert cause(calls=[("get_user_details", {}, True)] * 3) == "tool_error_loop"
    assert cause(calls=done[:1], termination="max_steps") == "step_limit"
    assert cause(calls=done[:1], termination="transfer") == "transfer"
    assert cause(calls=done, outputs_missing=["42"]) == "output_not_said"
    gave_up = {"role": "assistant", "content": "I am sorry, I cannot do that."}
    assert analyze_failure(task, _result(task, messages=[opening, gave_up])).cause == "gave_up_in_text"
    name, kwargs, _ = done[0]
    wrong = [(name, {**kwargs, "reservation_id": "ZZZZZ9"}, False), *done[1:]]
    failure = analyze_failure(task, _result(task, messages=[opening], calls=wrong))
    assert failure.cause == "wrong_write_arguments" and "wrong reservation_id" in failure.detail
    violation = {"rule": "cancel.basic_economy", "severity": "definite", "action": name}
    broke = analyze_failure(
        task, _result(task, messages=[opening], calls=wrong, compliance={"violations": [violation]})
    )
    assert broke.cause == "policy_rule_broken" and "cancel.basic_economy" in broke.detail
    assert analyze_failure(task, {**_result(task), "outcome": "passed"}) is None


def test_simulator_rules_need_evidence_in_the_users_own_words(two_writes):
    task = two_writes
    done = _writes(task)
    opening = {"role": "user", "content": task.instruction}

    def failure(*messages, calls=done[:1], **kwargs):
        return analyze_failure(task, _result(task, messages=[opening, *messages], calls=calls, **kwargs))

    # a value the agent said first, or the gold's own, is not invented
    listed = {"role": "assistant", "content": "You have reservations QQ11QQ and RR22RR."}
    assert failure(listed, {"role": "user", "content": "The first one, QQ11QQ."}).cause == "missing_write"
    gold_id = done[0][1]["reservation_id"]
    assert failure({"role": "user", "content": f"It is {gold_id}."}).cause == "missing_write"
    for said, what in (
        ("My user id is zed_quux_1234.", "user id zed_quux_1234"),
        ("Please refund $977.50.", "amount $977.50"),
        ("My name is Wilhelmina Quartz.", "name 'Wilhelmina Quartz'"),
    ):
        found = failure({"role": "user", "content": said})
        assert found.cause == "user_invented_detail" and what in found.detail
        assert found.blame == "user_simulator" and "the agent's side: write" in found.detail
    # ended early: stopped right after the agent's question (not after "anything else?")
    asked = {"role": "assistant", "content": "Which payment method would you like to use?"}
    assert failure(asked, {"role": "user", "content": "###STOP###"}).cause == "user_ended_early"
    closer = {"role": "assistant", "content": "Is there anything else I can help you with?"}
    assert failure(closer, {"role": "user", "content": "###STOP###"}).cause == "missing_write"
    # the audit's suspect comes first
    suspect = analyze_failure(task, _result(task, calls=done[:1]), {"status": "violates", "free_pass": False,
                                                                   "flags": ["cancel.rule:definite"]})
    assert suspect.cause == "task_suspect" and suspect.blame == "task"


def test_an_unwanted_action_is_blamed_only_when_the_agent_did_it(medium):
    writes = write_tool_names()
    task = next(
        t for t in medium[1]
        if "cancel" not in t.instruction.lower() and any(a.name in writes for a in t.actions)
    )
    done = _writes(task)
    opening = {"role": "user", "content": task.instruction}
    asked = {"role": "user", "content": "Also cancel my other trip, please."}
    extra = ("cancel_reservation", {"reservation_id": "ABC123"}, False)
    found = analyze_failure(task, _result(task, messages=[opening, asked], calls=[*done, extra]))
    assert found.cause == "user_unwanted_action" and "cancel" in found.detail
    # the agent did not act on it: its own missing write is the cause
    assert analyze_failure(task, _result(task, messages=[opening, asked], calls=done[:-1])).cause != (
        "user_unwanted_action"
    )


def test_compare_says_which_causes_moved():
    def entry(task, outcome, cause=None):
        failure = {"cause": cause, "blame": CAUSES[cause].blame, "detail": ""} if cause else None
        return {"task_id": task, "trial": 0, "outcome": outcome, **({"failure": failure} if failure else {})}

    baseline = [entry("a", "failed", "missing_write"), entry("b", "failed", "user_ended_early")]
    baseline.append(entry("c", "passed"))
    candidate = [entry("a", "passed"), entry("b", "failed", "user_ended_early")]
    candidate.append(entry("c", "failed", "extra_write"))
    shift = cause_shift(baseline, candidate, ["a", "b", "c"])
    assert shift["counts"]["missing_write"] == {"baseline": 1, "candidate": 0, "delta": -1}
    assert shift["counts"]["extra_write"]["delta"] == 1
    assert [(m["task_id"], m["from"], m["to"]) for m in shift["moved"]] == [
        ("a", "missing_write", "passed"),
        ("c", "passed", "extra_write"),
    ]
    lines = cause_shift_lines(shift)
    assert any("a#0 missing write -> passed" in line for line in lines)
    assert json.loads(json.dumps(shift)) == shift
