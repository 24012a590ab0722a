"""Task and scores files whose entries have the wrong shape are refused with one line naming the
entry and the field (they used to end `taugepa audit` and the benchmark with a TypeError)."""

from __future__ import annotations

import json

import pytest

from taugepa.cli import main
from taugepa.errors import ConfigError, TaskFileError
from taugepa.results.scores import load_scores
from taugepa.tasks.loading import load_tasks


@pytest.fixture
def entries(v1_tasks_file):
    return json.loads(v1_tasks_file.read_text())[:3]


def book_reservation(entries):
    for number, entry in enumerate(entries):
        for position, action in enumerate(entry["actions"]):
            if action["name"] == "book_reservation":
                return number, position, action
    raise AssertionError("no book_reservation among the first tasks")


def test_wrong_typed_gold_arguments_are_refused_naming_the_entry_and_field(tmp_path, v1_tasks_file):
    entries = json.loads(v1_tasks_file.read_text())
    number, position, action = book_reservation(entries)
    action["kwargs"]["passengers"] = 3  # a list in the schema: the rules iterated over it
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(TaskFileError) as caught:
        load_tasks([str(path)])
    assert str(caught.value) == (
        f"{path}: entry {number}: action {position} (book_reservation): ['passengers']: "
        "3 is not of type 'array': fix the task file"
    )


def test_the_audit_command_says_it_in_one_line(tmp_path, v1_tasks_file, capsys):
    entries = json.loads(v1_tasks_file.read_text())
    _, _, action = book_reservation(entries)
    action["kwargs"]["payment_methods"] = {"payment_id": "x", "amount": "a lot"}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(entries))
    code = main(["audit", "--tasks", str(path), "--out", str(tmp_path / "audit.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "['payment_methods']" in err and "Traceback" not in err


def test_null_kwargs_are_refused(tmp_path, entries):
    entries[0]["actions"][0]["kwargs"] = None
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(
        TaskFileError, match=r'entry 0: action 0 \(\w+\) has "kwargs": null: give its arguments'
    ):
        load_tasks([str(path)])


def test_a_scores_file_without_its_run_header_is_refused(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"format": "taugepa-scores", "version": 1, "episodes": []}))
    with pytest.raises(
        ConfigError, match=r'has no "run" header \(the agent, models, wiki and tasks of its run\)'
    ):
        load_scores(path)
