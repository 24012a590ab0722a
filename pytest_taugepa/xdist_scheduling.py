"""Under pytest-xdist, keep each worker's queue deep enough for its episode pool.

A worker can only run ahead (see `prefetch`) through the cases the controller has already
sent it. xdist's load scheduling refills a worker only when its queue is nearly empty and,
once a test took 0.1 s or more, not before the queue is down to two cases: a worker whose
episodes run on `--concurrency` threads would then see only one or two cases ahead. This
scheduler is xdist's load scheduling (same order, same hand-out of whatever is left) except
that a worker is topped up to `depth` queued cases whenever cases remain.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling


class EpisodeLoadScheduling(LoadScheduling):
    """Load scheduling that keeps `depth` cases queued on every worker while any remain."""

    def __init__(self, config: pytest.Config, log: Any, depth: int):
        super().__init__(config, log)
        self.depth = depth

    def schedule(self) -> None:
        super().schedule()
        for node in self.nodes:  # top up the initial chunks at once
            self.check_schedule(node)

    def check_schedule(self, node: Any, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not self.pending:
            node.shutdown()  # as xdist does: the worker finishes its queue, then stops
            return
        missing = self.depth - len(self.node2pending[node])
        if missing > 0:
            self._send_tests(node, missing)
