"""Scores files: summary, loading, GEPA batches, atomic writing; and the CI gates."""

from __future__ import annotations

import json

import pytest

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.results.gates import (
    GateSettings,
    compliance_line,
    compliance_regression_breach,
    evaluate_gates,
    min_compliance_breach,
    min_pass_rate_breach,
    parse_rate,
    regression_breach,
    resolve_gates,
)
from taugepa.results.scores import build_scores, episode_entry, load_scores, summarize, to_evaluation_batch
from taugepa.tasks.loading import load_tasks


@pytest.fixture(scope="module")
def v1_tasks(v1_tasks_file):
    return load_tasks([str(v1_tasks_file)]).tasks


def entries_for(tasks, agent, trials=1):
    return [
        episode_entry(task, run_episode(task, "wiki", HarnessSettings(agent=agent, trial=trial)).to_dict())
        for task in tasks
        for trial in range(trials)
    ]


def scores_file(tmp_path, entries, name="scores.json"):
    path = tmp_path / name
    write_json_atomically(path, build_scores({"agent": "test"}, entries))
    return load_scores(path)


def test_summary_counts_and_breakdowns(v1_tasks):
    entries = entries_for(v1_tasks, "null")
    summary = build_scores({}, entries)["summary"]
    assert summary["counts"] == {"passed": 19, "failed": 31, "invalid": 0, "error": 0}
    assert summary["pass_rate"] == pytest.approx(19 / 50)
    assert summary["by_group"]["test"]["passed"] == 19
    cancel = summary["by_action"]["cancel_reservation"]
    assert cancel["passed"] == 0 and cancel["failed"] == sum(
        "cancel_reservation" in t.action_names for t in v1_tasks
    )
    assert summary["by_action"]["transfer_to_human_agents"]["pass_rate"] == 1.0


def test_scores_file_round_trips_into_a_gepa_batch(tmp_path, v1_tasks):
    entries = entries_for(v1_tasks[:4], "oracle", trials=2)
    entries[1] = {**entries[1], "outcome": "failed", "score": 0.0, "reward": 0.0}
    scores = scores_file(tmp_path, entries)
    batch = to_evaluation_batch(scores, ["test-01", "test-00"])
    assert batch.scores == [1.0, 0.5]
    assert [o["task_id"] for o in batch.outputs] == ["test-01", "test-00"]
    assert len(batch.trajectories) == 2 and len(batch.trajectories[1]) == 2
    assert scores.task_scores()["test-00"] == 0.5


def test_gepa_batch_refuses_unscored_episodes(tmp_path, v1_tasks):
    entries = entries_for(v1_tasks[:2], "oracle")
    entries[0] = {**entries[0], "outcome": "error", "score": None}
    scores = scores_file(tmp_path, entries)
    with pytest.raises(ConfigError, match="test-00 has 1 unscored episode"):
        to_evaluation_batch(scores)
    with pytest.raises(ConfigError, match="no episode for task test-33"):
        to_evaluation_batch(scores, ["test-33"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"episodes": []}', "is not a taugepa scores file"),
        ("[1, 2]", "is not a taugepa scores file"),
        ("not json", "is not a readable JSON scores file"),
        ('{"format": "taugepa-scores", "version": 99}', "is a version 99 scores file"),
    ],
)
def test_other_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_scores(path)
    assert "\n" not in str(caught.value)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "scores.json"
    write_json_atomically(path, {"old": True})
    with pytest.raises(TypeError):
        write_json_atomically(path, {"new": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]


def test_rate_parsing():
    assert parse_rate("0.8", "--x") == 0.8 and parse_rate("80%", "--x") == 0.8
    for bad in ("1.5", "-1", "eighty"):
        with pytest.raises(ValueError, match="--x"):
            parse_rate(bad, "--x")


def test_gates(tmp_path, v1_tasks):
    oracle, null = entries_for(v1_tasks, "oracle"), entries_for(v1_tasks, "null")
    assert min_pass_rate_breach(oracle, 1.0) is None
    assert min_pass_rate_breach(null, 0.5) == "pass rate 38.0% (19/50) is below --min-pass-rate 50.0%"
    assert "no episode was scored" in min_pass_rate_breach([], 0.5)
    baseline = scores_file(tmp_path, oracle)
    breach = regression_breach(null, baseline, 0.1)
    assert breach.startswith("pass rate 38.0% on the 50 shared tasks is 62.0% below the baseline's 100.0%")
    assert regression_breach(null, baseline, 0.62) is None
    assert regression_breach(oracle[:10], baseline, 0.0) is None  # subset: compared on shared tasks
    other = scores_file(tmp_path, entries_for(load_tasks(["tau2-airline"]).tasks[:3], "oracle"), "other.json")
    assert "shares no scored task" in regression_breach(null, other, 0.0)


def with_violations(entries, broken):
    """Copies of `entries` where the episodes at positions `broken` carry one definite violation."""
    result = []
    for position, entry in enumerate(entries):
        entry = json.loads(json.dumps(entry))
        if position in broken:
            violation = {
                "rule": "confirm.write",
                "kind": "conversation",
                "severity": "definite",
                "turn": 1,
                "call_index": 0,
                "action": "cancel_reservation",
                "message": "wrote without the user's yes",
                "policy": None,
                "policy_found": None,
            }
            entry["compliance"]["violations"].append(violation)
            entry["compliance"]["compliant"] = False
        result.append(entry)
    return result


def test_compliance_gates_judge_the_share_of_episodes_without_a_definite_violation(tmp_path, v1_tasks):
    oracle = [e for e in entries_for(v1_tasks, "oracle") if e["compliance"]["compliant"]][:40]
    assert len(oracle) == 40 and all(e["outcome"] == "passed" for e in oracle)
    hasty = with_violations(oracle, set(range(8)))  # 8 of 40 broke a rule, all still passed
    assert min_compliance_breach(oracle, 1.0) is None
    assert min_compliance_breach(hasty, 0.8) is None  # 80% >= 80%
    assert min_compliance_breach(hasty, 0.9) == (
        "compliance 80.0% (32/40 episodes with no definite violation) is below --min-compliance 90.0%"
    )
    assert "no scored episode carries a compliance record" in min_compliance_breach([], 0.5)
    baseline = scores_file(tmp_path, oracle)
    assert compliance_regression_breach(hasty, baseline, 0.0).startswith(
        "compliance 80.0% on the 40 shared tasks is 20.0% below the baseline's 100.0%"
    )
    assert compliance_regression_breach(hasty, baseline, 0.2) is None
    assert compliance_regression_breach(hasty[8:], baseline, 0.0) is None  # judged on shared tasks
    # the pass rate gates hold: the run fails on compliance alone
    gates = GateSettings(
        min_pass_rate=1.0, baseline=baseline, min_compliance=0.9, max_compliance_regression=0.05
    )
    results = evaluate_gates(hasty, gates)
    assert [r.name for r in results] == [
        "--min-pass-rate 100.0%",
        f"--baseline {baseline.path} --max-regression 0.0%",
        "--min-compliance 90.0%",
        f"--baseline {baseline.path} --max-compliance-regression 5.0%",
    ]
    assert [r.failure is None for r in results] == [True, True, False, False]
    assert compliance_line(summarize(hasty).get("compliance")) == (
        "compliance 80.0% (32 of 40 scored episodes with no definite policy violation; 8 broke a rule)"
    )
    assert compliance_line(None) is None


def test_compliance_gate_options_are_checked_in_one_line(tmp_path):
    def lookup_of(values):
        return lambda name: (values.get(name), tmp_path)

    assert resolve_gates(lookup_of({"min_compliance": "95%"})).min_compliance == 0.95
    with pytest.raises(ConfigError, match="--min-compliance must be between 0 and 1"):
        resolve_gates(lookup_of({"min_compliance": "1.2"}))
    with pytest.raises(ConfigError, match="--max-compliance-regression needs --baseline"):
        resolve_gates(lookup_of({"max_compliance_regression": "0.05"}))
