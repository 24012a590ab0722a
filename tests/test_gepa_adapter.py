"""The GEPA adapter: same scores in process and through pytest; records for reflection."""

from __future__ import annotations

from pathlib import Path

import pytest

from taugepa.episode.settings import HarnessSettings
from taugepa.optimize.adapter import (
    WIKI_COMPONENT,
    InProcessEvaluator,
    PytestEvaluator,
    WikiAdapter,
    default_benchmarks_dir,
)
from taugepa.optimize.components import ComponentSet
from taugepa.results.scores import load_scores, to_evaluation_batch
from taugepa.rules.audit import audit_tasks, gold_policy_note
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import scripted_llm_config
from taugepa.testing.scripted_optimizer import (
    EXTRA_MODELS,
    SECTION_AGENT_MODEL,
    WIKI_AGENT_MODEL,
    tool_hint,
)
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import DEFAULT_POLICY_PATH
from taugepa.world.policy import load_policy

KEY_ENV, KEY = "TAUGEPA_TEST_ADAPTER_KEY", "sk-test-adapter-777"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(["taugepa-airline"]).tasks


def test_in_process_and_pytest_evaluations_give_identical_scores(tasks, tmp_path, monkeypatch):
    """Also with the candidate's tool descriptions: the section agent cancels only when the
    description of cancel_reservation carries its hint, in this process and under pytest."""
    monkeypatch.setenv(KEY_ENV, KEY)
    batch = tasks[:7] + [t for t in tasks if "cancel_reservation" in t.action_names][:5]
    components = ComponentSet.build("wiki+tools", DEFAULT_POLICY_PATH.read_text())
    candidate = {**components.seed_candidate()}
    candidate["tool:cancel_reservation"] += " " + tool_hint("cancel_reservation")
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, agent_model=SECTION_AGENT_MODEL, cache=False)
        settings = HarnessSettings(agent="llm", llm=llm, trials=2, concurrency=4)
        adapter = WikiAdapter(InProcessEvaluator(settings), components=components)
        in_process = adapter.evaluate(batch, candidate, True)
        requests_in_process = server.stats()["requests"]
        through_pytest = WikiAdapter(
            PytestEvaluator(settings, ["taugepa-airline"], default_benchmarks_dir(), workers=2),
            components=components,
        ).evaluate(batch, candidate, True)
        requests_total = server.stats()["requests"]
        without_hint = adapter.evaluate(batch, components.seed_candidate())
    assert requests_total == 2 * requests_in_process > 0  # both really ran every episode
    assert in_process.scores == through_pytest.scores
    assert 0 < sum(in_process.scores) < len(batch)  # some tasks pass, some fail: a real comparison
    assert sum(without_hint.scores) < sum(in_process.scores)  # the descriptions reached the agent
    for mine, theirs in zip(in_process.trajectories, through_pytest.trajectories, strict=True):
        assert [(e["task_id"], e["trial"], e["outcome"], e["feedback"]) for e in mine] == [
            (e["task_id"], e["trial"], e["outcome"], e["feedback"]) for e in theirs
        ]


def test_a_pytest_scores_file_loads_into_the_adapters_result_form(tasks, tmp_path, monkeypatch):
    """What CI writes (pytest --scores-out) is what GEPA would have computed."""
    monkeypatch.setenv(KEY_ENV, KEY)
    batch = tasks[20:28]
    wiki_text = DEFAULT_POLICY_PATH.read_text()
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, agent_model=WIKI_AGENT_MODEL)
        settings = HarnessSettings(agent="llm", llm=llm, concurrency=4)
        evaluator = PytestEvaluator(settings, ["taugepa-airline"], default_benchmarks_dir())
        by_task = evaluator.run(batch, wiki_text)
        own = WikiAdapter(InProcessEvaluator(settings)).evaluate(batch, {WIKI_COMPONENT: wiki_text})
    # Rebuild the batch from the entries pytest wrote, through the public loader.
    scores_path = tmp_path / "scores.json"
    from taugepa.files import write_json_atomically
    from taugepa.results.scores import build_scores

    write_json_atomically(scores_path, build_scores({}, [e for t in batch for e in by_task[t.id]]))
    loaded = to_evaluation_batch(load_scores(scores_path), [t.id for t in batch])
    assert loaded.scores == own.scores


def test_reflective_records_flag_tasks_whose_gold_breaks_the_policy(synthetic_files, v1_wiki):
    medium = [t for t in load_tasks([str(p) for p in synthetic_files]).tasks if t.group == "medium"]
    audits = audit_tasks(medium, load_policy(v1_wiki)).by_id()
    statuses = {task_id: audit.status for task_id, audit in audits.items()}
    violating = [t for t in medium if statuses[t.id] == "violates"][:3]
    clean = [t for t in medium if statuses[t.id] == "clean"][:3]
    chosen = violating + clean
    assert len(chosen) == 6

    def notes(entry):
        note = gold_policy_note(audits[entry["task_id"]])
        return [note] if note else []

    adapter = WikiAdapter(
        InProcessEvaluator(HarnessSettings(agent="null", concurrency=1)), record_notes=notes
    )
    evaluation = adapter.evaluate(chosen, {WIKI_COMPONENT: Path(v1_wiki).read_text()}, capture_traces=True)
    records = adapter.make_reflective_dataset({WIKI_COMPONENT: "x"}, evaluation, [WIKI_COMPONENT])[
        WIKI_COMPONENT
    ]
    assert len(records) == sum(score == 0 for score in evaluation.scores)
    for record in records:
        task_id = record["Inputs"]["task_id"]
        if statuses[task_id] == "violates":
            assert "themselves break the policy" in " ".join(record["Note on this task"])
        elif statuses[task_id] == "clean":
            assert "Note on this task" not in record


def test_combined_objective_docks_violations_judged_against_the_seed(synthetic_files, v1_wiki):
    """With --violation-penalty, a pass that broke the (seed) policy scores less than 1."""
    from taugepa.rules.compliance import objective_score

    medium = [t for t in load_tasks([str(p) for p in synthetic_files]).tasks if t.group == "medium"]
    audits = audit_tasks(medium, load_policy(v1_wiki)).by_id()
    violating = [t for t in medium if audits[t.id].status == "violates"][:3]
    clean = [t for t in medium if audits[t.id].status == "clean"][:2]
    seed = Path(v1_wiki).read_text()
    settings = HarnessSettings(agent="oracle", concurrency=1, compliance_policy=seed)
    plain = WikiAdapter(InProcessEvaluator(settings)).evaluate(
        violating + clean, {WIKI_COMPONENT: "x" + seed}
    )
    combined = WikiAdapter(
        InProcessEvaluator(settings), objective=lambda entry: objective_score(entry, 0.5)
    ).evaluate(violating + clean, {WIKI_COMPONENT: "x" + seed})
    assert plain.scores == [1.0] * 5  # the oracle passes every task
    assert all(score < 1.0 for score in combined.scores[:3]) and combined.scores[3:] == [1.0, 1.0]
