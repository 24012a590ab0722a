"""The task generator: reproducible, policy-compliant, and the shipped set is exactly what it makes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from taugepa.errors import TaugepaError
from taugepa.generate.generator import BUILTIN_RECIPE, SCENARIOS, dumps, generate_tasks
from taugepa.rules.audit import audit_tasks
from taugepa.tasks.loading import TAUGEPA_AIRLINE, builtin_task_sets, load_tasks, parse_v1_tasks
from taugepa.world.engine import write_tool_names
from taugepa.world.policy import load_policy

BUILTIN_FILE = Path(__file__).resolve().parent.parent / "taugepa" / "data" / "taugepa_airline.json"


@pytest.fixture(scope="module")
def small_set() -> list[dict]:
    return generate_tasks(80, seed=11, policy=load_policy()).tasks


def test_the_shipped_set_regenerates_byte_for_byte():
    generated = generate_tasks(BUILTIN_RECIPE["n"], BUILTIN_RECIPE["seed"], load_policy())
    assert dumps(generated.tasks) == BUILTIN_FILE.read_text()
    assert not generated.rejected


def test_same_seed_same_tasks_other_seed_other_tasks(small_set):
    assert dumps(generate_tasks(80, seed=11, policy=load_policy()).tasks) == dumps(small_set)
    assert dumps(generate_tasks(80, seed=12, policy=load_policy()).tasks) != dumps(small_set)


def test_every_generated_task_is_sound(small_set):
    tasks = parse_v1_tasks(dumps(small_set), "generated.json")
    report = audit_tasks(tasks, load_policy())
    assert {a.status for a in report.tasks} == {"clean"}
    writes = write_tool_names()
    for raw, audit in zip(small_set, report.tasks, strict=True):
        task_writes = [a for a in raw["actions"] if a["name"] in writes]
        if raw["refusal"]:
            assert not task_writes and audit.free_pass
        else:
            assert task_writes or raw["outputs"]
        assert raw["user_id"] in raw["instruction"]
        assert raw["difficulty"] in ("easy", "medium", "hard")
    assert set(Counter(t["scenario"] for t in small_set)) >= set(SCENARIOS) - {"compensation"}


def test_generated_tasks_state_their_payment_and_passengers(small_set):
    world_tasks = [t for t in small_set if t["scenario"].startswith("book")]
    assert world_tasks
    for raw in world_tasks:
        booking = next(a["kwargs"] for a in raw["actions"] if a["name"] == "book_reservation")
        for passenger in booking["passengers"][1:]:
            assert f"{passenger['first_name']} {passenger['last_name']}" in raw["instruction"]


def test_the_builtin_set_is_registered():
    assert TAUGEPA_AIRLINE in builtin_task_sets()
    collection = load_tasks([TAUGEPA_AIRLINE])
    assert len(collection.tasks) == BUILTIN_RECIPE["n"]
    assert collection.tasks[0].id == "gen-000" and collection.tasks[-1].id == f"gen-{BUILTIN_RECIPE['n'] - 1}"
    assert {t.group for t in collection.tasks} == {"easy", "medium", "hard"}
    refusals = [t for t in collection.tasks if t.metadata.get("refusal")]
    assert 0.15 < len(refusals) / len(collection.tasks) < 0.35


def test_bad_requests_are_one_line_errors(tmp_path: Path):
    with pytest.raises(TaugepaError, match="at least 1"):
        generate_tasks(0, seed=1, policy=load_policy())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "taugepa.cli",
            "generate",
            "--n",
            "0",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "t.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and not (tmp_path / "t.json").exists()


def test_generate_command_writes_what_the_library_makes(tmp_path: Path):
    out = tmp_path / "tasks.json"
    done = subprocess.run(
        [sys.executable, "-m", "taugepa.cli", "generate", "--n", "25", "--seed", "3", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == dumps(generate_tasks(25, seed=3, policy=load_policy()).tasks)
    assert "25 clean" in done.stdout and "0 violates" in done.stdout
    assert len(json.loads(out.read_text())) == 25
