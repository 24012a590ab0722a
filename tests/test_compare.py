"""`taugepa compare`: paired comparison of two runs, with intervals, a paired test and CI exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from taugepa.errors import ConfigError
from taugepa.files import write_json_atomically
from taugepa.results.compare import compare_scores
from taugepa.results.scores import build_scores, load_scores


def entry(task_id, outcome, trial=0, group="medium", actions=("cancel_reservation",)):
    score = {"passed": 1.0, "failed": 0.0}.get(outcome)
    return {
        "task_id": task_id,
        "trial": trial,
        "outcome": outcome,
        "score": score,
        "reward": score or 0.0,
        "group": group,
        "gold_action_names": list(actions),
    }


def scores(tmp_path, name, outcomes, trials=1):
    entries = [
        entry(f"medium-{i:03d}", outcome[trial] if trials > 1 else outcome, trial)
        for i, outcome in enumerate(outcomes)
        for trial in range(trials)
    ]
    path = tmp_path / name
    write_json_atomically(path, build_scores({}, entries))
    return path


def taugepa(*args):
    return subprocess.run(
        [sys.executable, "-m", "taugepa.cli", *args], capture_output=True, text=True, check=False
    )


def with_compliance(path, broken):
    """Every episode gets a compliance record; those of the `broken` tasks broke confirm.write."""
    document = json.loads(path.read_text())
    for e in document["episodes"]:
        bad = e["task_id"] in broken
        violations = (
            [
                {
                    "rule": "confirm.write",
                    "kind": "conversation",
                    "severity": "definite",
                    "message": "no yes",
                    "turn": 1,
                    "call_index": 0,
                    "action": "cancel_reservation",
                    "policy": None,
                    "policy_found": None,
                }
            ]
            if bad
            else []
        )
        e["compliance"] = {
            "policy_sha256": "0" * 64,
            "conversation_rules": True,
            "writes_checked": 1,
            "compliant": not bad,
            "counts": {"definite": int(bad), "possible": 0, "defect": 0},
            "violations": violations,
        }
    write_json_atomically(path, build_scores({}, document["episodes"]))
    return path


def test_a_pass_rate_bought_with_violations_is_not_better(tmp_path):
    base = with_compliance(scores(tmp_path, "base.json", ["passed"] * 20 + ["failed"] * 20), set())
    hasty_ids = {f"medium-{i:03d}" for i in range(16, 40)}  # 24 tasks broke the policy
    hasty = with_compliance(scores(tmp_path, "hasty.json", ["passed"] * 36 + ["failed"] * 4), hasty_ids)
    result = compare_scores(load_scores(base), load_scores(hasty))
    assert result.pass_rate_verdict == "better" and result.compliance_verdict == "worse"
    assert result.verdict == "not better"
    assert result.compliance.baseline == 1.0 and result.compliance.candidate == 0.4
    assert result.compliance.test == "exact McNemar" and result.compliance.p_value < 1e-6
    assert result.trade.startswith("pass rate +40.0 points (exact McNemar p = ")
    assert ", compliance \N{MINUS SIGN}60.0 points (exact McNemar p = " in result.trade
    assert result.trade.endswith(": not better")
    required = taugepa(
        "compare", str(base), str(hasty), "--require-better", "--json", str(tmp_path / "c.json")
    )
    assert required.returncode == 1
    assert f"verdict: {result.trade} (alpha 0.05)" in required.stdout
    assert "broke the policy where the baseline did not (24): medium-016" in required.stdout
    assert (
        required.stdout.strip()
        .splitlines()[-1]
        .startswith(
            "FAIL (exit status 1): --require-better: the candidate is not better: its pass rate rose "
            "(difference +40.0%"
        )
    )
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["verdict"] == "not better" and saved["pass_rate_verdict"] == "better"
    assert saved["compliance"]["delta"] == pytest.approx(-0.6)
    old_meaning = taugepa("compare", str(base), str(hasty), "--require-better", "--pass-rate-only")
    assert old_meaning.returncode == 0
    assert "policy compliance not judged (--pass-rate-only)" in old_meaning.stdout.strip().splitlines()[-1]
    plain = taugepa("compare", str(base), str(hasty))
    assert plain.returncode == 0 and "--require-better would fail it" in plain.stdout.strip().splitlines()[-1]
    # the same pass rate with more violations is worse, even without --require-better
    same = with_compliance(scores(tmp_path, "same.json", ["passed"] * 20 + ["failed"] * 20), hasty_ids)
    worse = taugepa("compare", str(base), str(same))
    assert worse.returncode == 1
    assert (
        worse.stdout.strip()
        .splitlines()[-1]
        .startswith(
            "FAIL (exit status 1): the candidate breaks the policy significantly more "
            "(compliance 40.0% vs 100.0%"
        )
    )
    # and a higher pass rate with no more violations is better
    careful = with_compliance(scores(tmp_path, "careful.json", ["passed"] * 36 + ["failed"] * 4), set())
    assert compare_scores(load_scores(base), load_scores(careful)).verdict == "better"


def test_identical_runs_show_no_difference(tmp_path):
    path = scores(tmp_path, "a.json", ["passed", "failed"] * 20)
    result = compare_scores(load_scores(path), load_scores(path))
    assert result.delta == 0 and result.p_value == 1.0 and result.verdict == "no significant difference"
    assert result.improved == [] and result.regressed == []
    assert result.baseline_interval.low < 0.5 < result.baseline_interval.high


def test_a_clear_regression_is_significant_and_fails_ci(tmp_path):
    base = scores(tmp_path, "base.json", ["passed"] * 30 + ["failed"] * 10)
    worse = scores(tmp_path, "worse.json", ["failed"] * 20 + ["passed"] * 10 + ["failed"] * 10)
    result = compare_scores(load_scores(base), load_scores(worse))
    assert result.test == "exact McNemar" and result.p_value < 1e-4 and result.verdict == "worse"
    assert result.regressed == [f"medium-{i:03d}" for i in range(20)] and result.improved == []
    assert result.delta_interval.high < 0
    run = taugepa("compare", str(base), str(worse), "--json", str(tmp_path / "c.json"))
    assert (
        run.returncode == 1
        and "verdict: pass rate \N{MINUS SIGN}50.0 points" in run.stdout
        and "regressed (20): medium-000" in run.stdout
    )
    assert run.stdout.strip().splitlines()[-1].startswith(
        "FAIL (exit status 1): the candidate is significantly worse (difference -50.0%, exact McNemar p = "
    )
    assert json.loads((tmp_path / "c.json").read_text())["verdict"] == "worse"
    assert taugepa("compare", str(worse), str(base)).returncode == 0


def test_require_better_needs_a_significant_improvement(tmp_path):
    base = scores(tmp_path, "base.json", ["passed"] * 20 + ["failed"] * 20)
    slightly = scores(tmp_path, "slightly.json", ["passed"] * 22 + ["failed"] * 18)
    plain = taugepa("compare", str(base), str(slightly))
    assert plain.returncode == 0
    assert plain.stdout.strip().splitlines()[-1].startswith(
        "PASS (exit status 0): the candidate is not significantly worse (difference +5.0%, exact McNemar p = "
    )
    required = taugepa("compare", str(base), str(slightly), "--require-better")
    assert required.returncode == 1  # and the last line says why
    assert required.stdout.strip().splitlines()[-1].startswith(
        "FAIL (exit status 1): --require-better: the candidate is not significantly better (difference +5.0%"
    )
    much = scores(tmp_path, "much.json", ["passed"] * 38 + ["failed"] * 2)
    better = taugepa("compare", str(base), str(much), "--require-better")
    assert better.returncode == 0
    assert better.stdout.strip().splitlines()[-1].startswith(
        "PASS (exit status 0): the candidate is significantly better (difference +45.0%"
    )


def test_trials_use_a_permutation_test_on_task_means(tmp_path):
    base = scores(tmp_path, "base.json", [["passed", "failed"]] * 30, trials=2)
    better = scores(tmp_path, "better.json", [["passed", "passed"]] * 30, trials=2)
    result = compare_scores(load_scores(base), load_scores(better))
    assert (
        result.test == "paired permutation" and result.baseline_rate == 0.5 and result.candidate_rate == 1.0
    )
    assert result.verdict == "better" and len(result.improved) == 30


def test_only_tasks_scored_in_both_runs_count(tmp_path):
    base = scores(tmp_path, "base.json", ["passed", "failed", "invalid", "passed"])
    cand = scores(tmp_path, "cand.json", ["passed", "error", "invalid"])
    result = compare_scores(load_scores(base), load_scores(cand))
    assert result.tasks == ["medium-000"]
    assert result.only_in_baseline == ["medium-001", "medium-003"]


def test_breakdowns_by_group_and_action(tmp_path):
    entries = [
        entry("a", "passed", group="easy", actions=["get_user_details"]),
        entry("b", "failed", group="medium", actions=["cancel_reservation", "book_reservation"]),
    ]
    improved = [
        entry("a", "passed", group="easy", actions=["get_user_details"]),
        entry("b", "passed", group="medium", actions=["cancel_reservation", "book_reservation"]),
    ]
    write_json_atomically(tmp_path / "1.json", build_scores({}, entries))
    write_json_atomically(tmp_path / "2.json", build_scores({}, improved))
    result = compare_scores(load_scores(tmp_path / "1.json"), load_scores(tmp_path / "2.json"))
    assert result.by_group["medium"].delta == 1.0 and result.by_group["easy"].delta == 0.0
    assert set(result.by_action) == {"get_user_details", "cancel_reservation", "book_reservation"}
    assert result.by_action["book_reservation"].tasks == 1


def test_bad_input(tmp_path):
    base = scores(tmp_path, "base.json", ["passed"])
    other = scores(tmp_path, "other.json", ["passed"])
    data = json.loads(other.read_text())
    for e in data["episodes"]:
        e["task_id"] = "tau2-1"
    other.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="share no scored task"):
        compare_scores(load_scores(base), load_scores(other))
    (tmp_path / "junk.json").write_text("[]")
    run = taugepa("compare", str(base), str(tmp_path / "junk.json"))
    assert (
        run.returncode == 2 and run.stderr.count("\n") == 1 and "is not a taugepa scores file" in run.stderr
    )


def test_compare_runs_two_wikis_then_compares(tmp_path, monkeypatch, capsys, v1_tasks_file):
    """`--wiki A --wiki B --tasks ...` runs both through the harness (scripted models over HTTP)."""
    from taugepa.cli import main
    from taugepa.tasks.loading import load_tasks
    from taugepa.testing.scripted_models import USER_MODEL, Conduct
    from taugepa.testing.scripted_optimizer import EXTRA_MODELS, WIKI_AGENT_MODEL, rule_sentence
    from taugepa.testing.scripted_server import ScriptedServer
    from taugepa.world.engine import DEFAULT_POLICY_PATH, write_tool_names

    seed = DEFAULT_POLICY_PATH.read_text()
    (tmp_path / "seed.md").write_text(seed)
    (tmp_path / "taught.md").write_text(
        seed + "\n" + "\n".join(rule_sentence(n) for n in sorted(write_tool_names()))
    )
    monkeypatch.setenv("TAUGEPA_TEST_CMP_KEY", "sk-cmp")
    tasks = load_tasks([str(v1_tasks_file)]).tasks
    # an agent that asks for a yes before each write: the taught wiki passes more and stays compliant
    careful = Conduct(confirm_writes=True)
    with ScriptedServer(tasks, api_key="sk-cmp", extra_models=EXTRA_MODELS, conduct=careful) as server:
        code = main(
            [
                "compare",
                "--wiki",
                str(tmp_path / "seed.md"),
                "--wiki",
                str(tmp_path / "taught.md"),
                "--tasks",
                str(v1_tasks_file),
                "--agent-model",
                WIKI_AGENT_MODEL,
                "--user-model",
                USER_MODEL,
                "--base-url",
                server.base_url,
                "--api-key-env",
                "TAUGEPA_TEST_CMP_KEY",
                "--out-dir",
                str(tmp_path / "runs"),
                "--require-better",
            ]
        )
    out = capsys.readouterr().out
    # six of v1's golds break a rule (the audit says so): the taught agent makes those writes, the seed's
    # agent made none, so the higher pass rate comes with significantly more violations: not better
    assert code == 1, out
    assert (
        "pass rate baseline   40.0%" in out
        and "pass rate candidate 100.0%" in out
        and "compliance baseline  100.0%  candidate  88.0%" in out
        and "compliance \N{MINUS SIGN}12.0 points (exact McNemar p = 0.031): not better" in out
        and out.strip().splitlines()[-1].startswith("FAIL (exit status 1): --require-better: the candidate")
    )
    baseline = load_scores(tmp_path / "runs" / "baseline.json")
    assert baseline.run["wiki"]["path"] == str(tmp_path / "seed.md") and len(baseline.episodes) == 50
    assert baseline.run["llm"]["agent_model"] == WIKI_AGENT_MODEL and "sk-cmp" not in json.dumps(baseline.run)
