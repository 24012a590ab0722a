"""Task loading: stable readable ids, built-in sets, one-line errors naming file and entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taugepa.errors import TaskFileError
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks, set_name_from_file


def write_tasks(path: Path, entries: object) -> Path:
    path.write_text(json.dumps(entries))
    return path


def a_task(**overrides: object) -> dict:
    task = {
        "user_id": "mia_li_3668",
        "instruction": "You are mia_li_3668 and want to know your reservations.",
        "actions": [{"name": "get_user_details", "kwargs": {"user_id": "mia_li_3668"}}],
    }
    task.update(overrides)
    return task


def test_synthetic_ids_come_from_difficulty_and_position(synthetic_files):
    tasks = load_tasks([str(p) for p in synthetic_files]).tasks
    assert len(tasks) == 456
    ids = [t.id for t in tasks]
    assert ids[:2] == ["easy-000", "easy-001"]
    assert ids[100] == "medium-000" and ids[117] == "medium-017"
    assert len(set(ids)) == 456


def test_ids_do_not_depend_on_other_files(synthetic_files, v1_tasks_file):
    medium = synthetic_files[1]
    alone = load_tasks([str(medium)]).tasks
    together = load_tasks([str(v1_tasks_file), str(synthetic_files[0]), str(medium)]).tasks
    assert [t.id for t in alone] == [t.id for t in together if t.set_name == "medium"]
    assert alone == [t for t in together if t.set_name == "medium"]


def test_set_name_from_file_name(v1_tasks_file):
    tasks = load_tasks([str(v1_tasks_file)]).tasks
    assert tasks[12].id == "test-12" and tasks[0].id == "test-00"
    assert tasks[12].outputs == tuple(json.loads(v1_tasks_file.read_text())[12]["outputs"])
    assert set_name_from_file("validated_tasks_medium_with_instructions.json") == "medium"
    assert set_name_from_file("my-hard.tasks.json") == "my_hard"


def test_builtin_tau2_set():
    collection = load_tasks([TAU2_AIRLINE])
    tasks = collection.by_id()
    assert len(tasks) == 50
    assert tasks["tau2-7"].user_id and "Task instructions" in tasks["tau2-7"].instruction
    assert tasks["tau2-7"].outputs == ("1628",)
    assert collection.sources[0].count == 50


def test_named_set_resolves_a_clash(tmp_path):
    first = write_tasks(tmp_path / "a.json", [a_task(difficulty="hard")])
    second = write_tasks(tmp_path / "b.json", [a_task(difficulty="hard")])
    with pytest.raises(TaskFileError, match=r"hard-0 from .*b\.json clashes with one from .*a\.json"):
        load_tasks([str(first), str(second)])
    ids = [t.id for t in load_tasks([str(first), f"extra={second}"]).tasks]
    assert ids == ["hard-0", "extra-0"]


def test_glob_spec_loads_files_in_sorted_order(tmp_path):
    write_tasks(tmp_path / "one.json", [a_task()])
    write_tasks(tmp_path / "two.json", [a_task(), a_task()])
    ids = [t.id for t in load_tasks([str(tmp_path / "*.json")]).tasks]
    assert ids == ["one-0", "two-0", "two-1"]
    with pytest.raises(TaskFileError, match="no file matches"):
        load_tasks([str(tmp_path / "*.nothing")])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"bad\.json: not valid JSON"),
        ('{"user_id": "x"}', r"bad\.json: expected a JSON list of tasks"),
        ("[]", r"bad\.json: the file contains no tasks"),
        (
            json.dumps([a_task(), a_task(user_id="")]),
            r"bad\.json: entry 1: 'user_id' must be a non-empty string",
        ),
        (
            json.dumps([a_task(actions=[{"name": "delete_everything", "kwargs": {}}])]),
            r"bad\.json: entry 0: action 0 names unknown tool 'delete_everything'",
        ),
        (
            json.dumps([a_task(actions=[{"kwargs": {}}])]),
            r"entry 0: 'actions\[0\]\.name' is missing",
        ),
        (json.dumps([a_task(outputs="327")]), r"entry 0: 'outputs' should be a valid list, got '327'"),
        (json.dumps(["just text"]), r"entry 0: expected an object"),
    ],
)
def test_malformed_files_fail_with_one_line_naming_file_and_entry(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TaskFileError, match=message) as caught:
        load_tasks([str(path)])
    assert "\n" not in str(caught.value)


def test_missing_file_names_the_builtin_sets(tmp_path):
    with pytest.raises(TaskFileError, match=r"task file not found: .*nope\.json .*tau2-airline"):
        load_tasks([str(tmp_path / "nope.json")])


def test_content_hash_ignores_id_but_not_gold(tmp_path):
    one = load_tasks([str(write_tasks(tmp_path / "x.json", [a_task()]))]).tasks[0]
    renamed = load_tasks([f"other={tmp_path / 'x.json'}"]).tasks[0]
    changed = load_tasks(
        [str(write_tasks(tmp_path / "y.json", [a_task(instruction="Something else.")]))]
    ).tasks[0]
    assert one.content_hash == renamed.content_hash
    assert one.content_hash != changed.content_hash
