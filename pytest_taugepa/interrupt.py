"""Ctrl-C in a benchmark run: stop cleanly, and say so in one line.

The first Ctrl-C is an ordinary KeyboardInterrupt: pytest ends the session, the episodes in
flight stop at their next turn, and the reporter writes the finished episodes to a scores
file marked `interrupted` (see `reporter`). What this module adds:

- Under xdist a Ctrl-C in a terminal reaches every process, but a SIGINT sent to the
  controller alone (`kill -INT`, a CI runner cancelling a job) does not reach the workers:
  the controller passes it on to them, so that they stop now rather than when execnet gives
  up on them.
- A second Ctrl-C while the run is stopping used to print tracebacks from every process.
  Now the controller (or a serial run) ends its workers and exits at once with one line; a
  worker ignores it (its controller is already ending it).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

import pytest

from pytest_taugepa.session import Benchmark


class InterruptHandling:
    """Registered by `start_benchmark` in every process of a benchmark run."""

    def __init__(self, benchmark: Benchmark, worker: bool):
        self.benchmark = benchmark
        self.worker = worker
        self.worker_pids: list[int] = []
        self.interrupted = False
        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True  # pytest reports where the Ctrl-C struck, not this handler
        if not self.interrupted:
            self.interrupted = True
            signal.default_int_handler(signum, frame)  # KeyboardInterrupt, where it struck
        if self.worker:
            return  # already stopping: the controller ends this worker
        self._signal_workers(signal.SIGTERM)  # they would complain about the vanished controller
        written = self.benchmark.scores_written
        where = f"scores file: {written}" if written else "no scores file was written"
        os.write(2, f"\ntaugepa: interrupted again: stopped at once; {where}\n".encode())
        os._exit(int(pytest.ExitCode.INTERRUPTED))

    def _signal_workers(self, signum: int) -> None:
        for pid in self.worker_pids:
            try:
                os.kill(pid, signum)
            except OSError:  # already gone
                pass

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist (controller): note each worker's process id (execnet has it before the worker runs)."""
        try:
            self.worker_pids.append(int(node.gateway._rinfo().pid))
        except Exception:  # an execnet without it, or a remote worker: it gets execnet's own stop
            pass

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if type(excinfo.value) is not KeyboardInterrupt:
            return  # pytest.exit or a stop requested by the run itself, not a Ctrl-C
        self.interrupted = True
        if self.benchmark.prefetcher is not None:  # free the CPU now: episodes in flight end their turn
            self.benchmark.prefetcher.pool.cancel("interrupted (Ctrl-C)")
        self._signal_workers(signal.SIGINT)  # a worker that already has its Ctrl-C ignores this one

    def pytest_unconfigure(self) -> None:
        # After a Ctrl-C the process is ending: keep catching a second one until it has.
        if self.interrupted or self._previous is None:
            return
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous)
