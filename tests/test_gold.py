"""Gold outcomes: invalid tasks are exactly the ones the engine refuses; the cache is keyed right."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from taugepa.files import default_cache_dir
from taugepa.tasks import gold as gold_module
from taugepa.tasks.gold import GoldCache, replay_gold
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Action
from taugepa.world.engine import get_world

INVALID_SYNTHETIC = {
    "medium-039",
    "medium-130",
    "medium-138",
    "medium-154",
    "medium-157",
    "medium-197",
    "medium-249",
}


@pytest.fixture(scope="module")
def synthetic_tasks(synthetic_files):
    return load_tasks([str(p) for p in synthetic_files]).tasks


def test_exactly_the_seven_passengers_without_dob_are_invalid(synthetic_tasks, tmp_path):
    cache = GoldCache(tmp_path, use_disk=False)
    invalid = {t.id: cache.get(t).invalid_reason for t in synthetic_tasks if not cache.get(t).valid}
    assert set(invalid) == INVALID_SYNTHETIC
    assert all("(book_reservation) fails in the engine: Passenger: dob:" in r for r in invalid.values())
    assert all("\n" not in reason for reason in invalid.values())


def test_disk_cache_is_reused_across_processes(synthetic_tasks, tmp_path, monkeypatch):
    task = synthetic_tasks[117]
    first = GoldCache(tmp_path).get(task)
    assert list((tmp_path / "gold").rglob("*.json"))

    def must_not_replay(*args, **kwargs):
        raise AssertionError("gold was replayed although it is cached on disk")

    monkeypatch.setattr(gold_module, "replay_gold", must_not_replay)
    assert GoldCache(tmp_path).get(task) == first  # a new cache object, as in another process


def test_cache_key_follows_task_content_and_engine(synthetic_tasks, tmp_path, monkeypatch):
    task = synthetic_tasks[117]
    cache = GoldCache(tmp_path)
    original = cache.get(task)
    bags = next(i for i, a in enumerate(task.actions) if a.name == "update_reservation_baggages")
    kwargs = {**task.actions[bags].kwargs, "total_baggages": task.actions[bags].kwargs["total_baggages"] + 1}
    edited = replace(
        task,
        actions=task.actions[:bags] + (Action(task.actions[bags].name, kwargs),) + task.actions[bags + 1 :],
    )
    assert cache.get(edited).db_digest != original.db_digest
    assert cache.get(edited) == replay_gold(edited, get_world())

    world = get_world()
    monkeypatch.setattr(world, "fingerprint", "another-engine")
    calls = []
    monkeypatch.setattr(gold_module, "replay_gold", lambda t, w: calls.append(t.id) or original)
    GoldCache(tmp_path).get(task, world)
    assert calls == [task.id]  # a new engine fingerprint recomputes


def test_damaged_cache_entries_are_recomputed(synthetic_tasks, tmp_path):
    task = synthetic_tasks[117]
    expected = GoldCache(tmp_path).get(task)
    for path in (tmp_path / "gold").rglob("*.json"):
        path.write_text("{half a file")
    assert GoldCache(tmp_path).get(task) == expected
    stored = [json.loads(p.read_text()) for p in (tmp_path / "gold").rglob("*.json")]
    assert stored == [{"db_digest": expected.db_digest, "invalid_reason": None}]


def test_a_process_without_a_home_folder_keeps_the_gold_cache_in_the_temporary_directory(
    monkeypatch, tmp_path, synthetic_tasks
):
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("TAUGEPA_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"taugepa-cache-{os.getuid()}"
    assert default_cache_dir() == folder
    assert GoldCache().get(synthetic_tasks[0]).valid
    assert list((folder / "gold").rglob("*.json"))  # written there, not lost
