"""Few-shot demonstrations: the file and its budget, the agent's prompt, and the optimized component."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.episode.agent_policy import FEWSHOT_HEADING, agent_policy_text
from taugepa.episode.fewshot import (
    MAX_DEMONSTRATION_CHARS,
    MAX_DEMONSTRATIONS,
    Demonstration,
    fewshot_document,
    fit_budget,
    load_fewshot,
    parse_block,
    render_block,
)
from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.episode.tau2_protocol import tau2_protocol
from taugepa.errors import ConfigError
from taugepa.optimize.fewshot_seed import check_sources, seed_demonstrations
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_fewshot import FEWSHOT_AGENT_MODEL, FEWSHOT_MODELS, FEWSHOT_REFLECTION_MODEL
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_FEWSHOT_TEST_KEY"
DEMOS = (
    Demonstration(
        "gen-001", 'Customer: add a bag\nAgent calls update_reservation_baggages(reservation_id="X")'
    ),  # noqa: E501
    Demonstration("gen-004", "Customer: cancel it\nAgent: Done."),
)


def test_the_block_reads_back_and_the_budget_trims_with_reasons():
    assert parse_block(render_block(DEMOS)) == DEMOS
    assert parse_block("Customer: hi\nAgent: hello")[0].source == "reflection"  # no heading: still one
    many = tuple(Demonstration(f"t{n}", "x" * 10) for n in range(MAX_DEMONSTRATIONS + 2))
    kept, reasons = fit_budget((Demonstration("long", "y" * (MAX_DEMONSTRATION_CHARS + 5)), *many))
    assert len(kept) == MAX_DEMONSTRATIONS and len(kept[0].text) == MAX_DEMONSTRATION_CHARS
    assert reasons[0].startswith("demonstration 1 (long) cut to") and "dropped: at most" in reasons[-1]


def test_a_file_over_the_budget_or_malformed_is_refused_with_one_line(tmp_path):
    path = tmp_path / "fewshot.json"
    path.write_text(json.dumps(fewshot_document(DEMOS)))
    assert load_fewshot(path) == DEMOS
    path.write_text(json.dumps(fewshot_document((Demonstration("a", "z" * (MAX_DEMONSTRATION_CHARS + 1)),))))
    with pytest.raises(ConfigError, match="over the fewshot budget .*shorten it"):
        load_fewshot(path)
    path.write_text(json.dumps({"format": "taugepa-fewshot", "demonstrations": [{"text": "no source"}]}))
    with pytest.raises(ConfigError, match="demonstration 1 needs a string 'source' and 'text'"):
        load_fewshot(path)


def test_the_agent_sees_the_block_after_the_wiki_and_compliance_judges_the_wiki_alone():
    assert agent_policy_text("policy", None) == "policy" == agent_policy_text("policy", ())
    text = agent_policy_text("policy\n", DEMOS)
    assert text.startswith("policy\n\n" + FEWSHOT_HEADING) and "### Example 2 (from task gen-004)" in text
    task = load_tasks(["taugepa-airline"]).tasks[1]
    result = run_episode(task, "the wiki", HarnessSettings(agent="oracle", fewshot=DEMOS))
    # under tau2's protocol (the default) the block stands in tau2's <policy> slot, after the wiki
    wrapped = tau2_protocol().agent_system_prompt(agent_policy_text("the wiki", DEMOS))
    assert result.messages[0]["content"] == wrapped
    plain = run_episode(task, "the wiki", HarnessSettings(agent="oracle"))
    assert result.compliance == plain.compliance
    own = run_episode(task, "the wiki", HarnessSettings(agent="oracle", protocol="taugepa", fewshot=DEMOS))
    assert own.messages[0]["content"] == agent_policy_text("the wiki", DEMOS)  # taugepa's: the text alone


def test_seeds_come_from_passed_training_episodes_only():
    def entry(task, outcome, names, text):
        messages = [{"role": "user", "content": text}, {"role": "assistant", "content": "done"}]
        return {"task_id": task, "outcome": outcome, "gold_action_names": names, "messages": messages}

    entries = [
        entry("train-1", "passed", ["cancel_reservation"], "cancel please, it is a long story"),
        entry("train-2", "passed", ["cancel_reservation"], "cancel"),
        entry("train-3", "failed", ["book_reservation"], "book"),
        entry("val-1", "passed", ["book_reservation"], "book"),
    ]
    demos, notes = seed_demonstrations(entries, ["train-1", "train-2", "train-3"])
    assert [d.source for d in demos] == ["train-2"]  # the shortest of its kind; no failure, no val task
    assert notes == ["1 passed episodes of non-training tasks left out"]
    with pytest.raises(ConfigError, match="not training tasks of this split .*val-1"):
        check_sources((Demonstration("val-1", "x"),), ["train-1"], "my.json")


def test_optimize_evolves_the_demonstrations_from_training_tasks_only(tmp_path, monkeypatch):
    """A baseline over every task seeds the component; reflection adds demonstrations; the best
    candidate's are written to the run directory, name only training tasks, and pytest takes them."""
    tasks = load_tasks(["taugepa-airline"]).tasks
    monkeypatch.setenv(KEY_ENV, "any")
    models = ["--agent-model", FEWSHOT_AGENT_MODEL, "--user-model", USER_MODEL, "--api-key-env", KEY_ENV]
    with ScriptedServer(tasks, extra_models={**EXTRA_MODELS, **FEWSHOT_MODELS}) as server:
        models += ["--base-url", server.base_url]
        baseline = tmp_path / "baseline.json"
        command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
        command += ["--tasks", "taugepa-airline", "-k", " or ".join(f"gen-{n:03d}" for n in range(40))]
        subprocess.run([*command, *models, "--scores-out", str(baseline)], cwd=tmp_path, check=False)
        run_dir = tmp_path / "run"
        arguments = ["optimize", "--tasks", "taugepa-airline", *models]
        arguments += ["--reflection-model", FEWSHOT_REFLECTION_MODEL, "--components", "wiki+fewshot"]
        arguments += ["--fewshot-from", str(baseline), "--budget", "60", "--val-size", "8"]
        arguments += ["--train-size", "16", "--minibatch-size", "3", "--run-dir", str(run_dir)]
        assert main(arguments) == 0
        split = json.loads((run_dir / "split.json").read_text())
        seed = json.loads((run_dir / "seed_fewshot.json").read_text())
        best = json.loads((run_dir / "best_fewshot.json").read_text())
        candidates = json.loads((run_dir / "candidates.json").read_text())
        assert {d["source"] for d in seed["demonstrations"]} <= set(split["train"])
        assert best["demonstrations"] != seed["demonstrations"]  # the component changed
        assert {d["source"] for d in best["demonstrations"]} <= set(split["train"])
        assert candidates["best_score"] > candidates["seed_score"]
        # pytest runs with the best candidate's demonstrations and records them
        scores = tmp_path / "best.json"
        best_run = [*command, *models, "--fewshot", str(run_dir / "best_fewshot.json")]
        best_run += ["--scores-out", str(scores)]
        subprocess.run([*best_run, "--wiki", str(run_dir / "best_wiki.md")], cwd=tmp_path, check=False)
    recorded = json.loads(scores.read_text())["run"]["fewshot"]
    assert recorded["sources"] == [d["source"] for d in best["demonstrations"]]
    assert recorded["path"] == str(run_dir / "best_fewshot.json")
