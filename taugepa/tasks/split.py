"""Disjoint train and validation sets for optimization, seeded and stratified by group.

GEPA learns from the training tasks and picks its best candidate on the validation tasks;
if one task were in both, the reported validation score would flatter the wiki. Each group
(difficulty, else set name) is shuffled with the seed and split in proportion, so both sets
keep the mix of easy and hard tasks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from taugepa.errors import ConfigError
from taugepa.tasks.model import Task


@dataclass(frozen=True)
class Split:
    train: list[Task]
    val: list[Task]

    def describe(self) -> str:
        def counts(tasks: list[Task]) -> str:
            by_group: dict[str, int] = defaultdict(int)
            for task in tasks:
                by_group[task.group] += 1
            return ", ".join(f"{group} {n}" for group, n in sorted(by_group.items()))

        train, val = counts(self.train), counts(self.val)
        return f"train {len(self.train)} tasks ({train}); val {len(self.val)} tasks ({val})"


def split_tasks(tasks: Sequence[Task], val_size: int, seed: int, train_size: int | None = None) -> Split:
    """Split into `val_size` validation tasks and (up to `train_size`) training tasks."""
    tasks = list(tasks)
    if val_size < 1:
        raise ConfigError(f"--val-size must be at least 1, got {val_size}")
    if val_size >= len(tasks):
        raise ConfigError(
            f"--val-size {val_size} leaves no training task out of {len(tasks)}: choose a smaller --val-size"
        )
    rng = random.Random(seed)
    groups: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        groups[task.group].append(task)
    for members in groups.values():
        rng.shuffle(members)
    val_quota = _apportion({g: len(m) for g, m in sorted(groups.items())}, val_size)
    val = [task for group, members in sorted(groups.items()) for task in members[: val_quota[group]]]
    rest = {group: members[val_quota[group] :] for group, members in sorted(groups.items())}
    remaining = sum(len(m) for m in rest.values())
    if train_size is None or train_size >= remaining:
        train = [task for members in rest.values() for task in members]
    else:
        if train_size < 1:
            raise ConfigError(f"--train-size must be at least 1, got {train_size}")
        train_quota = _apportion({g: len(m) for g, m in rest.items()}, train_size)
        train = [task for group, members in rest.items() for task in members[: train_quota[group]]]
    order = {task.id: position for position, task in enumerate(tasks)}
    return Split(train=sorted(train, key=lambda t: order[t.id]), val=sorted(val, key=lambda t: order[t.id]))


def _apportion(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Share `total` among groups in proportion to their sizes (largest remainders)."""
    whole = sum(sizes.values())
    exact = {group: total * size / whole for group, size in sizes.items()}
    quota = {group: int(value) for group, value in exact.items()}
    leftover = total - sum(quota.values())
    for group in sorted(exact, key=lambda g: (quota[g] - exact[g], g))[:leftover]:
        quota[group] += 1
    return {group: min(quota[group], sizes[group]) for group in sizes}
