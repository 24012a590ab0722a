"""Which candidate `taugepa optimize` keeps: by default, the best pass rate that does not cost compliance.

The scripted "tempted" reflection model teaches cancellations with a hasty sentence (cancel at
once, without asking): the candidate that carries it passes more validation tasks and breaks
the policy's confirmation rule on each cancellation. GEPA, climbing the pass rate alone
(`--violation-penalty 0`), scores it highest; the default selection leaves it out.
"""

from __future__ import annotations

import json

import pytest

from taugepa.cli import main
from taugepa.optimize.reflection_records import reflective_record
from taugepa.optimize.selection import CandidateFigures, candidate_table, select_best
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import (
    EXTRA_MODELS,
    TEMPTED_REFLECTION_MODEL,
    WIKI_AGENT_MODEL,
    hasty_sentence,
    rule_sentence,
)
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV, KEY = "TAUGEPA_TEST_SELECT_KEY", "sk-test-selection"

FIGURES = {
    0: CandidateFigures(passed=3, failed=9, compliant=12, judged=12),
    1: CandidateFigures(passed=8, failed=4, compliant=12, judged=12),
    2: CandidateFigures(passed=12, failed=0, compliant=10, judged=12),
}


def test_the_default_selection_keeps_the_best_pass_rate_that_does_not_cost_compliance():
    scores = [0.25, 0.667, 1.0]
    chosen = select_best("compliance-floor", scores, FIGURES, objective_best=2)
    assert chosen.best == 1 and chosen.eligible == (0, 1)
    assert "1 with a lower compliance left out" in chosen.reason
    assert select_best("pass-rate", scores, FIGURES, objective_best=2).best == 2
    assert select_best("objective", scores, FIGURES, objective_best=2).best == 2
    # the seed always qualifies: when every candidate costs compliance, the seed is kept
    assert select_best("compliance-floor", scores, {0: FIGURES[0], 2: FIGURES[2]}, objective_best=2).best == 0
    table = candidate_table(scores, FIGURES, chosen, objective_best=2)
    assert table[1].split() == ["#0", "0.250", "25.0%", "100.0%", "seed"]
    assert table[2].split()[:4] == ["#1", "0.667", "66.7%", "100.0%"] and table[2].endswith("best")
    assert table[3].endswith("compliance below the seed's: not eligible, GEPA's highest score")


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with ScriptedServer(
        load_tasks(["taugepa-airline"]).tasks, api_key=KEY, extra_models=EXTRA_MODELS
    ) as running:
        yield running


def optimize(base_url, run_dir, *extra):
    arguments = ["optimize", "--tasks", "taugepa-airline", "--agent-model", WIKI_AGENT_MODEL]
    arguments += ["--user-model", USER_MODEL, "--reflection-model", TEMPTED_REFLECTION_MODEL]
    arguments += ["--base-url", base_url, "--api-key-env", KEY_ENV, "--budget", "150", "--val-size", "12"]
    arguments += ["--train-size", "30", "--minibatch-size", "3", "--run-dir", str(run_dir)]
    arguments += ["--concurrency", "8", "--violation-penalty", "0", *extra]
    return main(arguments)


def test_a_candidate_that_buys_pass_rate_with_violations_is_not_chosen(server, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert optimize(server.base_url, run_dir) == 0
    out = capsys.readouterr().out
    saved = json.loads((run_dir / "candidates.json").read_text())
    candidates = saved["candidates"]
    seed = candidates[0]
    assert seed["val_compliance"] == 1.0 and saved["selection"] == "compliance-floor"
    hasty = [c for c in candidates if hasty_sentence("cancel_reservation") in c["wiki"]]
    careful = [c for c in candidates if c not in hasty]
    assert hasty and careful
    top = max(hasty, key=lambda c: c["val_pass_rate"])
    best = candidates[saved["best"]]
    # the tempted candidate passes more and breaks the confirmation rule; it is not the best
    assert top["val_pass_rate"] > best["val_pass_rate"] and top["val_compliance"] < seed["val_compliance"]
    assert not top["eligible"] and saved["objective_best"] == top["index"]
    assert best in careful and best["val_compliance"] >= seed["val_compliance"]
    assert best["val_pass_rate"] == max(c["val_pass_rate"] for c in careful)
    best_wiki = (run_dir / "best_wiki.md").read_text()
    assert (
        hasty_sentence("cancel_reservation") not in best_wiki
        and rule_sentence("book_reservation") in best_wiki
    )
    # progress lines, the table and the summary show compliance beside the pass rate
    assert "seed wiki: validation score 0.250 on 12 tasks (pass rate 25.0%, compliance 100.0%)" in out
    assert f"accepted as #{top['index']} (validation 1.000, pass rate 100.0%, compliance" in out
    row = next(line for line in out.splitlines() if line.strip().startswith(f"#{top['index']} "))
    assert row.endswith("compliance below the seed's: not eligible, GEPA's highest score")
    assert f"best: candidate #{best['index']}, the highest validation pass rate among the" in out
    # the reflection records of the hasty episodes name the rule they broke
    episodes = [json.loads(path.read_text()) for path in (run_dir / "episodes").glob("*.json")]
    broke = [e for e in episodes if e["outcome"] == "passed" and not e["compliance"]["compliant"]]
    assert broke and all(v["rule"] == "confirm.write" for e in broke for v in e["compliance"]["violations"])
    record = reflective_record(broke[0])
    assert "PASSED, but the agent broke the policy on the way (confirm.write)" in json.dumps(record)
    # the same finished run, chosen by pass rate alone (the selection is not part of the run's settings)
    assert optimize(server.base_url, run_dir, "--selection", "pass-rate") == 0
    assert json.loads((run_dir / "candidates.json").read_text())["best"] == top["index"]
    assert hasty_sentence("cancel_reservation") in (run_dir / "best_wiki.md").read_text()


def test_a_bad_selection_is_one_line(tmp_path, capsys):
    arguments = ["optimize", "--reflection-model", "m", "--budget", "50", "--run-dir", str(tmp_path / "r")]
    code = main([*arguments, "--selection", "x"])
    assert code == 2
    assert (
        "--selection must be one of compliance-floor, pass-rate, objective, got 'x'"
        in capsys.readouterr().err
    )
