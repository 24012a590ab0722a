"""The closing lines of a benchmark run, case by case (the end-to-end runs are in test_plugin.py)."""

from __future__ import annotations

import pytest

from pytest_taugepa.verdict import GateResult, RunState, one_line_failure, verdict_lines


def summary(passed: int, failed: int, invalid: int = 0, error: int = 0, cost: float | None = None) -> dict:
    scored = passed + failed
    return {
        "counts": {"passed": passed, "failed": failed, "invalid": invalid, "error": error},
        "pass_rate": passed / scored if scored else None,
        "usage": {"cost_usd": cost},
    }


def test_a_clean_run_passes():
    lines = verdict_lines(RunState(summary(5, 0), pytest.ExitCode.OK, [], scores_file="s.json"))
    assert lines == [
        "pass rate 100.0% (5 passed, 0 failed) · 0 invalid · 0 errors (invalid and errors are not counted)",
        "scores file: s.json",
        "PASS (exit status 0): no case failed",
    ]


def test_without_a_gate_failed_episodes_fail_the_run_and_the_last_line_says_how_to_gate():
    lines = verdict_lines(RunState(summary(1, 1), pytest.ExitCode.TESTS_FAILED, [], compact=True))
    assert lines[-2].startswith("each failure above is one line: -v or --tb=long")
    assert lines[-1] == (
        "FAIL (exit status 1): 1 episode failed and no gate is set "
        "(--min-pass-rate, --min-compliance or --baseline let the figures decide)"
    )


def test_every_gate_is_listed_and_the_failed_ones_decide():
    gates = [GateResult("--min-pass-rate 50.0%"), GateResult("--baseline b.json", "pass rate fell 9.0%")]
    lines = verdict_lines(RunState(summary(3, 1), pytest.ExitCode.TESTS_FAILED, gates))
    assert lines[1:3] == ["gate passed: --min-pass-rate 50.0%", "gate failed: pass rate fell 9.0%"]
    assert lines[-1] == "FAIL (exit status 1): the gate --baseline b.json failed"


def test_the_compliance_line_and_a_failed_compliance_gate_come_after_the_pass_rate():
    block = {"episodes": 4, "compliant": 1, "rate": 0.25}
    gates = [
        GateResult("--min-pass-rate 50.0%"),
        GateResult("--min-compliance 90.0%", "compliance 25.0% ..."),
    ]
    state = RunState({**summary(4, 0), "compliance": block}, pytest.ExitCode.TESTS_FAILED, gates)
    lines = verdict_lines(state)
    assert (
        lines[1]
        == "compliance 25.0% (1 of 4 scored episodes with no definite policy violation; 3 broke a rule)"
    )
    assert lines[2:4] == ["gate passed: --min-pass-rate 50.0%", "gate failed: compliance 25.0% ..."]
    assert lines[-1] == "FAIL (exit status 1): the gate --min-compliance 90.0% failed"


def test_errors_are_named_as_infrastructure_not_as_the_agents_failures():
    gates = [GateResult("--min-pass-rate 10.0%")]
    lines = verdict_lines(RunState(summary(3, 1, error=2), pytest.ExitCode.TESTS_FAILED, gates))
    assert lines[-1] == (
        "FAIL (exit status 1): 2 episodes ended in infrastructure errors (not the agent's fault)"
    )


def test_a_max_cost_stop_reports_what_the_run_spent_in_all():
    stopped = {"reason": "--max-cost $0.2 reached", "episodes_not_started": 7}
    state = RunState(summary(4, 0, cost=0.55), pytest.ExitCode.INTERRUPTED, [], stopped=stopped)
    lines = verdict_lines(state)
    assert lines[1] == (
        "stopped starting new episodes: --max-cost $0.2 reached; the run spent $0.5500 in all "
        "(episodes in flight finished); 7 episodes not run (the scores file is partial)"
    )
    assert lines[-1] == "FAIL (exit status 2): the run was cut short by --max-cost"


def test_an_interrupted_run_gives_no_pass_rate_as_its_result():
    interrupted = {"episodes_done": 27, "episodes_planned": 50}
    state = RunState(
        summary(27, 0), pytest.ExitCode.INTERRUPTED, [], scores_file="s.json", interrupted=interrupted
    )
    assert verdict_lines(state) == [
        "taugepa: INTERRUPTED after 27 of 50 episodes: no verdict (the pass rate of the finished ones, "
        "100.0%, is not the run's); s.json is marked interrupted"
    ]
    nothing = RunState(None, pytest.ExitCode.INTERRUPTED, [], interrupted={"episodes_done": 0})
    assert verdict_lines(nothing) == [
        "taugepa: no episode ran (interrupted before any episode finished); no scores file was written"
    ]


def test_one_line_failures_keep_the_divergence_and_the_rules_broken():
    feedback = (
        "The final database does not match the gold outcome.\n"
        'Expected writes (1): cancel_reservation(reservation_id="ABC")\n'
        "Agent's writes (0): none\n"
        'First divergence at write 1: the agent never called cancel_reservation(reservation_id="ABC").\n'
        'Missing required outputs: "42"'
    )
    compliance = {
        "violations": [
            {"rule": "cancel.flown", "turn": 2, "action": "cancel_reservation", "severity": "definite"},
            {"rule": "confirm.write", "turn": 2, "action": "cancel_reservation", "severity": "possible"},
        ]
    }
    assert one_line_failure(feedback, compliance) == (
        'First divergence at write 1: the agent never called cancel_reservation(reservation_id="ABC"). '
        'Missing required outputs: "42" · definite policy violations: '
        "cancel.flown (turn 2, cancel_reservation)"
    )
    long = one_line_failure("x" * 1000)
    assert len(long) == 240 and long.endswith("…") and "\n" not in long
