"""Split a run's tasks into N shards, one per machine or CI job (`pytest --shard K/N`).

A task goes to a shard by its id, not by its place in the task files: the ids are ranked by
their SHA-256 and dealt round-robin, so the split depends only on the set of ids (the same
whatever order the task files are given in), the shards differ by at most one task, and a
task file sorted by difficulty is spread over all shards instead of giving one shard the hard
tasks. Every trial of a task is in the task's shard, so pass^k is computed where its trials
are. Every task is in exactly one shard: `taugepa merge` puts the shards' scores files back
together and checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from taugepa.errors import ConfigError

MAX_SHARDS = 1000


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based, as a CI matrix counts) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, task_ids: Iterable[str]) -> set[str]:
        """The ids of `task_ids` (the run's whole task set) that belong to this shard."""
        return {task_id for task_id, shard in assign(task_ids, self.count).items() if shard == self.index}


def assign(task_ids: Iterable[str], count: int) -> dict[str, int]:
    """Each task id's shard (1..count): ids ranked by SHA-256, dealt round-robin."""
    ranked = sorted(
        set(task_ids), key=lambda task_id: (hashlib.sha256(task_id.encode()).hexdigest(), task_id)
    )
    return {task_id: rank % count + 1 for rank, task_id in enumerate(ranked)}


def _rank_key(task_id: str) -> tuple[str, str]:
    return hashlib.sha256(task_id.encode()).hexdigest(), task_id


def parse_shard(text: str, option: str = "--shard") -> Shard:
    """`K/N` with 1 <= K <= N (`2/4`: the second of four shards); anything else is one clear line."""
    parts = str(text).strip().split("/")
    try:
        index, count = (int(part) for part in parts)
    except ValueError:
        raise ConfigError(
            f"{option} expects K/N, the shard to run and how many there are (such as 2/4), got {text!r}"
        ) from None
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"{option} {text}: the number of shards must be between 1 and {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ConfigError(f"{option} {text}: the shard must be between 1 and {count} (shards count from 1)")
    return Shard(index, count)
