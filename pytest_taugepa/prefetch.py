"""Run the episodes of the cases this process is about to run, many at a time.

pytest runs one test at a time, but an LLM episode mostly waits on the network. When a
case's fixture asks for its episode, the prefetcher also queues the episodes of the next
cases this process will run on the thread pool (`taugepa.episode.runner.EpisodePool`), so up to
`--concurrency` episodes are in flight while the tests themselves still run, and report,
one by one in their usual order.

Which cases come next: without xdist, the ones after this case in `session.items` (the
final, selected and ordered list). In an xdist worker, the cases the controller has
already sent to this worker and that wait in its queue; xdist does not publish that
queue, so it is read from its worker plugin (`torun`, `nextitem_index`) and, if a future
xdist changes those, the prefetcher falls back to what it can see: no lookahead, each
episode runs when its case does (correct, just not concurrent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taugepa.episode.runner import EpisodeJob, EpisodePool

LOOKAHEAD_PER_SLOT = 4  # queued episodes per thread: keeps threads busy when one episode is slow


class Prefetcher:
    """Looks ahead in this process's cases and keeps the pool fed with their episodes."""

    def __init__(self, pool: EpisodePool, job_for: Callable[[pytest.Item], EpisodeJob | None]):
        self.pool = pool
        self.job_for = job_for
        self.lookahead = pool.concurrency * LOOKAHEAD_PER_SLOT if pool.concurrency > 1 else 0
        self._positions: dict[int, int] | None = None

    def result(self, item: pytest.Item, job: EpisodeJob) -> Any:
        """This case's episode result, after queueing the episodes of the cases that follow."""
        if self.lookahead:
            self.pool.submit(job)
            for upcoming in self.upcoming(item):
                upcoming_job = self.job_for(upcoming)
                if upcoming_job is not None:
                    self.pool.submit(upcoming_job)
        return self.pool.result(job)

    def upcoming(self, item: pytest.Item) -> list[pytest.Item]:
        """The cases this process will run after `item`, nearest first, up to the lookahead."""
        items = item.session.items
        worker = _xdist_worker(item.config)
        if worker is not None:
            return [items[index] for index in _queued_indices(worker)[: self.lookahead]]
        if hasattr(item.config, "workerinput"):
            return []  # an xdist worker whose queue cannot be read: no lookahead
        if self._positions is None or len(self._positions) != len(items):
            self._positions = {id(candidate): position for position, candidate in enumerate(items)}
        position = self._positions.get(id(item))
        if position is None:
            return []
        return items[position + 1 : position + 1 + self.lookahead]


def _xdist_worker(config: pytest.Config) -> Any | None:
    """xdist's worker plugin in this process (None outside xdist workers or if it changed shape)."""
    if not hasattr(config, "workerinput"):
        return None
    for plugin in config.pluginmanager.get_plugins():
        queue = getattr(plugin, "torun", None)
        if queue is not None and hasattr(queue, "lock") and hasattr(plugin, "nextitem_index"):
            return plugin
    return None


def _queued_indices(worker: Any) -> list[int]:
    """Indices into session.items that the worker will run next, in order."""
    try:
        with worker.torun.lock() as queue:
            queued = list(queue)
        upcoming = [worker.nextitem_index, *queued]
    except Exception:  # xdist internals changed: run without lookahead
        return []
    return [index for index in upcoming if isinstance(index, int) and not isinstance(index, bool)]
