"""Reflection records: compact, concrete, failures first with a few passes."""

from __future__ import annotations

import json

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.optimize.reflection_records import MAX_CALLS, reflective_record, reflective_records
from taugepa.results.scores import episode_entry
from taugepa.tasks.loading import load_tasks


def entries(tasks, agent):
    return [episode_entry(t, run_episode(t, "wiki", HarnessSettings(agent=agent)).to_dict()) for t in tasks]


def test_failure_record_names_what_went_wrong(v1_tasks_file):
    task = load_tasks([str(v1_tasks_file)]).by_id()["test-01"]
    (record,) = reflective_records(entries([task], "null"))
    assert record["Inputs"]["task_id"] == "test-01"
    assert record["Inputs"]["customer instruction"].startswith(task.instruction[:50])
    assert record["Feedback"].startswith(
        "FAILED: First divergence at write 1: the agent never called cancel_reservation("
    )
    assert record["Expected"]["gold write actions"][0].startswith("cancel_reservation(reservation_id=")
    assert record["Generated Outputs"]["tool calls"] == ["(no tool calls)"]
    assert "Goodbye" in record["Generated Outputs"]["last message to the customer"]


def test_batch_keeps_all_failures_and_a_few_passes(v1_tasks_file):
    tasks = load_tasks([str(v1_tasks_file)]).tasks
    records = reflective_records(entries(tasks, "null"), passes=2)
    outcomes = [r["Feedback"].split(":")[0] for r in records]
    assert outcomes == ["FAILED"] * 31 + ["PASSED"] * 2


def test_records_stay_compact(v1_tasks_file):
    task = load_tasks([str(v1_tasks_file)]).by_id()["test-00"]
    (entry,) = entries([task], "oracle")
    entry["tool_calls"] = entry["tool_calls"] * 40
    entry["messages"][1]["content"] = "x" * 5000
    record = reflective_record(entry)
    assert len(record["Generated Outputs"]["tool calls"]) == MAX_CALLS + 1
    assert len(json.dumps(record)) < 10_000
