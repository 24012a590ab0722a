"""Train/validation split for optimization: disjoint, seeded, stratified by group."""

from __future__ import annotations

import pytest

from taugepa.errors import ConfigError
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.split import split_tasks


@pytest.fixture(scope="module")
def tasks(synthetic_files):
    return load_tasks([str(p) for p in synthetic_files]).tasks


def test_split_is_disjoint_stratified_and_seeded(tasks):
    split = split_tasks(tasks, val_size=40, seed=1)
    train_ids, val_ids = {t.id for t in split.train}, {t.id for t in split.val}
    assert not train_ids & val_ids and len(val_ids) == 40 and len(train_ids) == 456 - 40
    assert sum(t.group == "easy" for t in split.val) == round(40 * 100 / 456)  # 9 easy, 31 medium
    assert split_tasks(tasks, val_size=40, seed=1) == split
    assert {t.id for t in split_tasks(tasks, val_size=40, seed=2).val} != val_ids
    assert split.describe() == "train 416 tasks (easy 91, medium 325); val 40 tasks (easy 9, medium 31)"


def test_train_size_limits_training_tasks(tasks):
    split = split_tasks(tasks, val_size=10, seed=0, train_size=20)
    assert len(split.train) == 20 and sum(t.group == "easy" for t in split.train) == 4
    assert not {t.id for t in split.train} & {t.id for t in split.val}


def test_sizes_that_cannot_work_are_refused(tasks):
    with pytest.raises(ConfigError, match="leaves no training task"):
        split_tasks(tasks[:5], val_size=5, seed=0)
    with pytest.raises(ConfigError, match="--val-size must be at least 1"):
        split_tasks(tasks, val_size=0, seed=0)
