"""The optimizer's parts without a model: sections, components and their records, tool
descriptions, the curriculum, the merge plan, tracking options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from taugepa.cli import main
from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.optimize.components import (
    SECTION_PREFIX,
    TOOL_PREFIX,
    WIKI_COMPONENT,
    ComponentSet,
    TouchedFirstSelector,
    failure_tools,
)
from taugepa.optimize.curriculum import EasyFirstSampler, build_stages
from taugepa.optimize.settings import RolloutPlan
from taugepa.optimize.tracking import check_tracking, tracking_options
from taugepa.tasks.loading import load_tasks
from taugepa.world.engine import DEFAULT_POLICY_PATH, get_world
from taugepa.world.policy_sections import join_sections, split_sections
from taugepa.world.tool_descriptions import (
    default_tool_descriptions,
    describe_tool_descriptions,
    load_tool_descriptions,
)

SEED = DEFAULT_POLICY_PATH.read_text()


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(["taugepa-airline"]).tasks


def test_sections_split_at_headings_and_join_back_exactly(shared_data):
    for text in (SEED, (shared_data / "tau-bench-v1" / "wiki.md").read_text()):
        sections = split_sections(text)
        assert join_sections([(s.heading, s.body) for s in sections]) == text
        assert [s.name for s in sections][2:5] == ["book-flight", "modify-flight", "cancel-flight"]
    by_name = {s.name: s for s in split_sections(SEED)}
    assert by_name["cancel-flight"].subject == {"cancel_reservation"}
    assert by_name["modify-flight"].subject == {
        "update_reservation_flights",
        "update_reservation_baggages",
        "update_reservation_passengers",
    }
    assert by_name["refunds-and-compensation"].subject == {"send_certificate"}
    assert by_name["domain-basic"].subject == frozenset()  # general: its ### subsections stay inside
    assert "### Flight" in by_name["domain-basic"].body

    fenced = "intro\n```\n# not a heading\n```\n## Cancel\nrule\n## Cancel\nother\n"
    parts = split_sections(fenced)
    assert [(s.name, s.heading) for s in parts] == [
        ("preamble", ""),
        ("cancel", "## Cancel\n"),
        ("cancel-2", "## Cancel\n"),
    ]
    assert join_sections([(s.heading, s.body) for s in parts]) == fenced


def test_the_candidate_is_a_dict_that_reassembles_into_the_wiki_and_tool_descriptions():
    components = ComponentSet.build("sections+tools", SEED)
    seed = components.seed_candidate()
    assert list(seed)[:2] == [SECTION_PREFIX + "airline-agent-policy", SECTION_PREFIX + "domain-basic"]
    assert all(isinstance(v, str) for v in seed.values()) and len(seed) == len(components.names)
    assert components.wiki(seed) == SEED
    assert components.tool_descriptions(seed) == default_tool_descriptions()
    # an edited section (reflection output without a final newline) keeps the next heading on its line
    edited = {**seed, SECTION_PREFIX + "cancel-flight": "Only cancel with a reason."}
    wiki = components.wiki(edited)
    assert "## Cancel flight\nOnly cancel with a reason.\n\n## Refunds and Compensation\n" in wiki
    assert components.hashes(edited) != components.hashes(seed)
    assert [k for k in seed if components.hashes(edited)[k] != components.hashes(seed)[k]] == [
        SECTION_PREFIX + "cancel-flight"
    ]
    plain = ComponentSet.build("wiki", SEED)
    assert (
        plain.seed_candidate() == {WIKI_COMPONENT: SEED} and plain.tool_descriptions({"wiki": SEED}) is None
    )
    assert plain.fingerprint() is None  # run directories of earlier versions still resume
    with pytest.raises(ConfigError, match="has none: add headings, or use --components wiki"):
        ComponentSet.build("sections", "no headings at all", "flat.md")


def _entry(task_id, outcome, gold, calls, violations=()):
    return {
        "task_id": task_id,
        "outcome": outcome,
        "feedback": "First divergence: ...",
        "messages": [{"role": "user", "content": f"request {task_id}"}],
        "expected_actions": [{"name": name, "kwargs": {}} for name in gold],
        "expected_writes": [],
        "tool_calls": [
            {"step": i, "name": name, "arguments": {}, "result": "ok", "is_error": False, "executed": True}
            for i, name in enumerate(calls)
        ],
        "compliance": {
            "violations": [{"action": a, "severity": "definite", "rule": "r"} for a in violations]
        },
    }


def test_each_component_reflects_on_the_failures_that_concern_it():
    components = ComponentSet.build("sections+tools", SEED)
    never_cancelled = _entry(
        "t1", "failed", ["get_reservation_details", "cancel_reservation"], ["get_reservation_details"]
    )
    wrong_booking = _entry("t2", "failed", [], ["book_reservation"])
    missing_output = _entry("t3", "failed", ["get_user_details"], ["get_user_details"])
    passed_cancel = _entry("t4", "passed", ["cancel_reservation"], ["cancel_reservation"])
    assert failure_tools(never_cancelled) == {"cancel_reservation"}
    assert failure_tools(wrong_booking) == {"book_reservation"}
    entries = [never_cancelled, wrong_booking, missing_output, passed_cancel]
    names = [
        SECTION_PREFIX + "cancel-flight",
        SECTION_PREFIX + "book-flight",
        SECTION_PREFIX + "domain-basic",
        SECTION_PREFIX + "refunds-and-compensation",
        TOOL_PREFIX + "cancel_reservation",
    ]
    dataset = components.reflective_dataset(entries, names, passes=2)
    ids = {name: [r["Inputs"]["task_id"] for r in records] for name, records in dataset.items()}
    assert ids == {
        SECTION_PREFIX + "cancel-flight": ["t1", "t4"],  # its failure, then a pass about the same write
        SECTION_PREFIX + "book-flight": ["t2"],
        SECTION_PREFIX + "domain-basic": ["t3"],  # general: the failure no section is about
        SECTION_PREFIX + "refunds-and-compensation": [],  # nothing to learn: GEPA skips it
        TOOL_PREFIX + "cancel_reservation": ["t1", "t4"],
    }
    templates = components.reflection_templates()
    assert 'the section headed "## Cancel flight"' in templates[SECTION_PREFIX + "cancel-flight"]
    assert "the airline tool `cancel_reservation`" in templates[TOOL_PREFIX + "cancel_reservation"]
    assert all("<curr_param>" in t and "<side_info>" in t for t in templates.values())

    # the touched-first selector skips, in round-robin order, components no failure concerns
    state = SimpleNamespace(
        list_of_named_predictors=components.names, named_predictor_id_to_update_next_for_program_candidate=[0]
    )
    selector = TouchedFirstSelector(components)
    picks = [selector(state, [[never_cancelled], [wrong_booking]], [0.0, 0.0], 0, {})[0] for _ in range(3)]
    assert picks == [
        SECTION_PREFIX + "book-flight",
        SECTION_PREFIX + "cancel-flight",
        TOOL_PREFIX + "book_reservation",
    ]


def test_tool_descriptions_reach_the_agent_and_bad_files_are_one_line(tasks, tmp_path):
    hint = "Cancel only after the customer said yes."
    schemas = get_world().new_engine(tool_descriptions={"cancel_reservation": hint}).tool_schemas
    described = {s["function"]["name"]: s["function"]["description"] for s in schemas}
    assert described["cancel_reservation"] == hint
    assert described["book_reservation"] == default_tool_descriptions()["book_reservation"]
    assert (
        get_world().new_engine().tool_schemas[0]["function"]["description"] != hint
    )  # no leak between engines

    seen = []
    run_episode(
        tasks[0],
        "wiki",
        HarnessSettings(agent="oracle", tool_descriptions=(("cancel_reservation", hint),)),
        make_agent=lambda context: seen.append(context.tools) or _NullAgent(),
    )
    assert {t["function"]["name"]: t["function"]["description"] for t in seen[0]}[
        "cancel_reservation"
    ] == hint

    for content, message in (
        ('{"cancel_flight": "x"}', "describes an unknown tool 'cancel_flight'"),
        ('{"cancel_reservation": ""}', "the description of cancel_reservation must be a non-empty text"),
        ("[1, 2]", "must hold a JSON object"),
        ("{oops", "is not valid JSON"),
    ):
        path = tmp_path / "descriptions.json"
        path.write_text(content)
        with pytest.raises(ConfigError, match=message) as error:
            load_tool_descriptions(path)
        assert "\n" not in str(error.value)
    info = describe_tool_descriptions({"cancel_reservation": hint}, "d.json")
    assert (
        info["path"] == "d.json"
        and set(info["tools"]) == {"cancel_reservation"}
        and len(info["sha256"]) == 64
    )


class _NullAgent:
    def act(self, messages):
        return {"role": "assistant", "content": "###STOP###"}


def test_curriculum_stages_go_easy_first_and_move_on_by_the_stated_rule(tasks):
    train = [t for t in tasks if t.difficulty == "hard"][:4] + [t for t in tasks if t.difficulty == "easy"][
        :5
    ]
    train += [t for t in tasks if t.difficulty == "medium"][
        :2
    ]  # fewer than a minibatch: joins the stage before
    stages = build_stages(train, minibatch_size=3)
    assert [s.name for s in stages] == ["easy", "medium+hard", "all"]
    assert sorted(stages[1].ids) == [0, 1, 2, 3, 9, 10] and len(stages[2].ids) == len(train)

    said: list[str] = []
    sampler = EasyFirstSampler(train, 3, max_metric_calls=100, seed_metric_calls=10, say=said.append)
    state = SimpleNamespace(total_num_evals=10)
    first = sampler.next_minibatch_ids(None, state)
    assert len(set(first)) == 3 and set(first) <= set(stages[0].ids) and sampler.current == "stage 1/3 easy"
    # the parent's score on its minibatch reaches the threshold: move on before the next draw
    sampler.on_evaluation_end({"candidate_idx": 0, "has_trajectories": True, "scores": [1.0, 1.0, 1.0]})
    assert set(sampler.next_minibatch_ids(None, state)) <= set(stages[1].ids)
    assert said == ["curriculum: stage 2/3 medium+hard (the parent's minibatch score 1.00 reached 1)"]
    # a child's or a merge's evaluation is not the parent's: no effect
    sampler.on_evaluation_end({"candidate_idx": None, "has_trajectories": True, "scores": [1.0, 1.0, 1.0]})
    saved = sampler.state()
    # the stage's share of the budget (2/3 of the 90 calls after the seed's validation) is spent
    state.total_num_evals = 70
    sampler.next_minibatch_ids(None, state)
    assert sampler.stage == 2 and "stage medium+hard used its share of the budget: 70 of 100" in said[-1]
    state.total_num_evals = 1000
    sampler.next_minibatch_ids(None, state)
    assert sampler.stage == 2  # the last stage lasts to the end
    resumed = EasyFirstSampler(train, 3, max_metric_calls=100, seed_metric_calls=10, say=said.append)
    resumed.restore(saved)
    assert resumed.current == "stage 2/3 medium+hard" and resumed.drawn == saved["drawn"]
    with pytest.raises(ConfigError, match="needs training tasks of at least two groups"):
        build_stages([t for t in tasks if t.difficulty == "easy"][:6], 3)


def test_the_plan_accounts_for_merges():
    plain = RolloutPlan(budget=100, trials=2, val_size=10, minibatch_size=3)
    merging = RolloutPlan(budget=100, trials=2, val_size=10, minibatch_size=3, max_merges=4)
    assert (merging.merge_minimum, merging.merge_maximum) == (10, 30)  # 5 validation tasks x 2, + 10 x 2
    assert plain.max_overshoot == merging.max_overshoot == 30  # a reflective iteration costs up to 32
    small = RolloutPlan(budget=100, trials=1, val_size=10, minibatch_size=1, max_merges=2)
    assert small.iteration_maximum == 12 and small.merge_maximum == 15 and small.max_overshoot == 14
    line = " ".join(merging.lines())
    assert (
        "merge: up to 4 accepted merges" in line
        and "each 10 (validation subsample of 5 x 2 trials) to 30" in line
    )


def test_tracking_passes_through_and_a_missing_package_is_one_line(monkeypatch, tmp_path, capsys):
    assert tracking_options("none", tmp_path) == {}
    assert tracking_options("mlflow", tmp_path)["use_mlflow"] is True
    wandb = tracking_options("wandb", tmp_path / "opt1")
    assert wandb["use_wandb"] is True and wandb["wandb_init_kwargs"]["name"] == "opt1"
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'taugepa\[mlflow\]'"):
        check_tracking("mlflow")
    arguments = ["optimize", "--reflection-model", "r", "--agent", "oracle", "--budget", "100"]
    code = main([*arguments, "--run-dir", str(tmp_path / "run"), "--track", "mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--track mlflow needs the mlflow package" in err
    assert not (tmp_path / "run").exists()  # refused before anything was spent or written


def test_the_pytest_option_records_the_tool_descriptions_in_the_scores_file(tmp_path):
    import subprocess

    descriptions = {"cancel_reservation": "Cancel a whole reservation once the customer confirmed."}
    path = tmp_path / "descriptions.json"
    path.write_text(json.dumps(descriptions))
    repo = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "pytest", str(repo / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--agent", "oracle", "-k", "gen-000 or gen-001", "--scores-out", str(tmp_path / "s.json")]
    done = subprocess.run(
        [*command, "--tool-descriptions", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-1500:]
    run = json.loads((tmp_path / "s.json").read_text())["run"]
    assert run["tool_descriptions"] == describe_tool_descriptions(descriptions, str(path))
    path.write_text('{"cancel_flight": "x"}')
    bad = subprocess.run(
        [*command, "--tool-descriptions", str(path)], capture_output=True, text=True, check=False
    )
    assert bad.returncode != 0 and "describes an unknown tool 'cancel_flight'" in bad.stdout + bad.stderr


def test_progress_lines_for_a_merge_and_for_an_iteration_cut_short():
    from taugepa.optimize.progress import ProgressLines

    lines: list[str] = []
    progress = ProgressLines(RolloutPlan(100, 1, 10, 3, max_merges=2), lines.append, several_components=True)
    progress._write = lines.append  # not through tqdm
    state = SimpleNamespace(total_num_evals=57)
    progress.on_iteration_start({"iteration": 7})
    progress.on_evaluation_start({"candidate_idx": None, "parent_ids": [3, 5], "capture_traces": False})
    progress.on_evaluation_end(
        {"iteration": 7, "scores": [1.0, 1.0, 0.0, 1.0, 1.0], "is_seed_candidate": False}
    )
    progress.on_merge_attempted({"iteration": 7, "parent_ids": [3, 5]})
    progress.on_valset_evaluated(
        {"iteration": 7, "candidate_idx": 6, "average_score": 0.9, "num_examples_evaluated": 10}
    )
    progress.on_candidate_accepted({"new_candidate_idx": 6})
    progress.on_iteration_end({"iteration": 7, "state": state})
    assert lines[-1].startswith(
        "iteration 7: merge of #3 and #5 · validation subsample 4/5 · accepted as #6 (validation 0.900) · "
        "best validation 0.900 · 57/100 episodes counted"
    )

    progress.on_iteration_start({"iteration": 8})
    progress.on_candidate_selected({"candidate_idx": 6})
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        progress.on_iteration_end({"iteration": 8, "state": state})  # as GEPA's `finally` calls it
    assert len(lines) == 1  # the cut iteration is not reported as "not accepted"
