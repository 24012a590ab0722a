"""The state of one benchmark session, shared by the plugin's hooks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_taugepa.options import BenchmarkSettings
from taugepa.tasks.model import Task, TaskCollection

if TYPE_CHECKING:
    from pytest_taugepa.audit_support import TaskAudits
    from taugepa.results.gates import GateResult


@dataclass
class Benchmark:
    """One benchmark session's settings, tasks and (on the controller) collected episodes."""

    settings: BenchmarkSettings
    collection: TaskCollection
    tasks: dict[str, Task] = field(default_factory=dict)
    collected: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    gate_failures: list[str] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)  # every gate set, held or failed
    scores_written: str | None = None
    audits: TaskAudits | None = None
    prefetcher: Any = None  # this process's episode pool (pytest_taugepa.prefetch.Prefetcher)
    cost_ledger: str | None = None  # folder where processes record spending, with --max-cost
    not_started: list[str] = field(default_factory=list)  # why episodes were not started
    config_error: str | None = None  # the configuration error that stopped the run
    interrupted: bool = False  # Ctrl-C (here or in an xdist worker)
    interrupted_info: dict[str, Any] | None = None  # as written to the scores file
    group_marks: dict[str, str] = field(default_factory=dict)  # group -> its pytest mark (see marks.py)
    reviewer: Any = None  # this process's FailureReviewer, with --review-model
    shard_tasks: set[str] | None = None  # with --shard K/N: the ids of this shard's tasks
    unwritten: list[str] = field(default_factory=list)  # outputs a full disk kept from being written

    def ordered_entries(self) -> list[dict[str, Any]]:
        order = {task_id: position for position, task_id in enumerate(self.tasks)}
        return [self.collected[key] for key in sorted(self.collected, key=lambda k: (order[k[0]], k[1]))]
