"""Many episodes in flight in one process: a thread pool over `run_episode`.

An episode spends nearly all its time waiting for LLM answers, so threads overlap them
well: 16 episodes in flight need one process, not 16. Each episode has its own engine and
transcript, so verdicts do not depend on how many run at once. The pytest plugin (which
submits the cases a process is about to run) and, through `iter_episodes`, `compare` and
the GEPA adapter use the same pool.

The pool also enforces a cost budget (`--max-cost`): an episode that has not started when
the budget is spent is not started at all (`NotStarted`); episodes already in flight finish.
It stops everything on a configuration error, which retrying other episodes cannot fix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.episode.run import EpisodeResult, builtin_user, run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import InfrastructureError, Interrupted, TaugepaError
from taugepa.files import write_json_atomically
from taugepa.llm.client import prepare_clients
from taugepa.llm.endpoint_health import FailureStreak
from taugepa.llm.rate_limits import set_concurrency
from taugepa.llm.usage import episode_cost
from taugepa.protocol import ERROR, FAILED, PASSED
from taugepa.tasks.model import Task


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: a task, the wiki to run it with, and its settings (for its trial)."""

    task: Task
    wiki: str
    config: HarnessSettings

    @property
    def key(self) -> tuple[str, int]:
        return (self.task.id, self.config.trial)


@dataclass(frozen=True)
class NotStarted:
    """An episode that was never started (the budget was spent or the run was stopped)."""

    key: tuple[str, int]
    reason: str


class EpisodeCancelled(InfrastructureError):
    """The pool was closed while this episode was in flight; its result is thrown away."""


class CostBudget:
    """Dollars a run may spend, shared by threads and, through a ledger folder, by processes.

    Each process writes what it has spent to its own file in the ledger folder (pytest-xdist
    workers share one folder), and the budget is spent when all files together reach it.
    """

    def __init__(self, max_cost: float | None, ledger_dir: Path | str | None = None, name: str = "main"):
        self.max_cost = max_cost
        self.ledger_dir = Path(ledger_dir) if ledger_dir is not None else None
        self.name = name
        self._own = 0.0
        self._lock = threading.Lock()

    def add(self, cost: float) -> None:
        if not cost:
            return
        with self._lock:
            self._own += cost
            if self.ledger_dir is not None:
                write_json_atomically(
                    self.ledger_dir / f"{self.name}.json", {"spent": self._own}, compact=True
                )

    def spent(self) -> float:
        total = self._own
        if self.ledger_dir is not None and self.ledger_dir.is_dir():
            for path in self.ledger_dir.glob("*.json"):
                if path.stem == self.name:
                    continue
                try:
                    total += float(json.loads(path.read_text())["spent"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue
        return total

    def exhausted(self) -> bool:
        return self.max_cost is not None and self.spent() >= self.max_cost

    def reason(self) -> str:
        # Not the amount spent so far: episodes in flight still add to it (the summary has the total).
        return f"--max-cost ${self.max_cost:g} reached"


class _Guarded:
    """An agent or user that refuses to go on once the pool is closing (checked per turn).

    Other attributes (such as the `calls` usage records of LLM players) pass through.
    """

    def __init__(self, player: Any, cancelled: threading.Event):
        self._player = player
        self._cancelled = cancelled

    def _check(self) -> None:
        if self._cancelled.is_set():
            raise EpisodeCancelled("the run was stopped while this episode was in flight")

    def act(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        self._check()
        return self._player.act(messages)

    def first_message(self) -> str:
        self._check()
        return self._player.first_message()

    def reply(self, agent_message: str) -> str:
        self._check()
        return self._player.reply(agent_message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._player, name)


class EpisodePool:
    """Runs episodes on `concurrency` threads; results are looked up by (task id, trial).

    With `concurrency` 1 nothing runs ahead: `result` runs the episode in the caller's thread.
    """

    def __init__(
        self,
        concurrency: int = 1,
        *,
        budget: CostBudget | None = None,
        make_agent: Callable[..., Any] | None = None,
        make_user: Callable[..., Any] = builtin_user,
        **run_options: Any,
    ):
        self.concurrency = max(1, concurrency)
        set_concurrency(self.concurrency)  # the ceiling of requests in flight, for the rate-limit line
        self.budget = budget or CostBudget(None)
        self._run_options = run_options
        self._cancelled = threading.Event()
        self._stop_reason: str | None = None
        self._streak = FailureStreak()
        self._make_agent = make_agent  # None: the agent each job's settings name
        self._make_user = make_user
        self._futures: dict[tuple[str, int], Future] = {}
        self._lock = threading.Lock()
        self._executor = (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="taugepa-episode")
            if self.concurrency > 1
            else None
        )

    def submit(self, job: EpisodeJob) -> None:
        """Queue an episode (once per key); threads start queued episodes in submission order."""
        if self._executor is None:
            return
        with self._lock:
            if job.key not in self._futures and not self._cancelled.is_set():
                self._futures[job.key] = self._executor.submit(self._run, job)

    def result(self, job: EpisodeJob) -> EpisodeResult | NotStarted:
        """The episode's result, waiting for it (or running it here when nothing runs ahead)."""
        if self._executor is None:
            return self._run(job)
        self.submit(job)
        with self._lock:
            future = self._futures.pop(job.key, None)
        if future is None:  # submitted after close()
            return NotStarted(job.key, self._stop_reason or "the run was stopped")
        return future.result()

    def stop(self, reason: str) -> None:
        """Start no more episodes: the ones not started yet become NotStarted(reason)."""
        self._stop_reason = self._stop_reason or reason

    def finished(self, jobs: Iterable[EpisodeJob]) -> list[tuple[EpisodeJob, EpisodeResult]]:
        """The jobs among `jobs` whose episode has finished with a result (without waiting)."""
        with self._lock:
            futures = [(job, self._futures.get(job.key)) for job in jobs]
        done = [
            (job, future)
            for job, future in futures
            if future is not None and future.done() and not future.cancelled() and future.exception() is None
        ]
        return [(job, future.result()) for job, future in done if isinstance(future.result(), EpisodeResult)]

    def cancel(self, reason: str = "the run was stopped") -> None:
        """Cancel what has not started and stop what is in flight at its next turn; do not wait."""
        self.stop(reason)
        self._cancelled.set()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Cancel what has not started, stop what is in flight at its next turn, wait for threads."""
        self.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _run(self, job: EpisodeJob) -> EpisodeResult | NotStarted:
        if self._stop_reason is not None:
            return NotStarted(job.key, self._stop_reason)
        if self.budget.exhausted():
            return NotStarted(job.key, self.budget.reason())
        try:
            result = run_episode(
                job.task,
                job.wiki,
                job.config,
                make_agent=self._make_agent,
                make_user=self._make_user,
                guard=lambda player: _Guarded(player, self._cancelled),
                **self._run_options,
            )
        except TaugepaError as exc:  # a configuration error: no other episode can do better
            self.stop(str(exc))
            raise
        self.budget.add(episode_cost(result.usage))
        self._watch(result)
        return result

    def _watch(self, result: EpisodeResult) -> None:
        """Stop starting episodes when the endpoint fails every one the same way (a wrong or dead
        --base-url); a scored episode resets the streak (`taugepa.llm.endpoint_health`)."""
        if result.outcome in (PASSED, FAILED):
            self._streak.record(False)
        elif result.outcome == ERROR and result.termination == "error" and not self._cancelled.is_set():
            reason = self._streak.record(True, result.feedback)
            if reason is not None:
                self.stop(reason)


def iter_episodes(
    jobs: Iterable[EpisodeJob], concurrency: int = 8, *, budget: CostBudget | None = None, **pool_options: Any
) -> Iterator[tuple[EpisodeJob, EpisodeResult | NotStarted]]:
    """Run jobs with up to `concurrency` in flight; yield each (job, result) in job order, as
    soon as it is there, so that a caller can keep every finished episode.

    A configuration error (for example an unknown model) stops the run and is raised. On
    Ctrl-C it raises `Interrupted` holding the episodes that finished ahead of the ones
    already yielded. Closing the generator stops the episodes still in flight.
    """
    jobs = list(jobs)
    for llm in {job.config.llm for job in jobs if job.config.llm}:
        prepare_clients(llm)
    pool = EpisodePool(concurrency, budget=budget, **pool_options)
    handed = 0
    try:
        for job in jobs:
            pool.submit(job)
        for job in jobs:
            result = pool.result(job)
            handed += 1
            yield job, result
    except KeyboardInterrupt:  # Ctrl-C: hand the finished episodes to the caller
        finished = pool.finished(jobs[handed:])
        pool.cancel("interrupted (Ctrl-C)")
        raise Interrupted(done=finished, planned=len(jobs)) from None
    finally:
        pool.close()


def run_episodes(
    jobs: Iterable[EpisodeJob], concurrency: int = 8, *, budget: CostBudget | None = None, **pool_options: Any
) -> list[EpisodeResult | NotStarted]:
    """Run jobs with up to `concurrency` in flight; results in job order (see `iter_episodes`).

    On Ctrl-C, `Interrupted.done` holds every finished episode, in job order.
    """
    results: list[tuple[EpisodeJob, EpisodeResult | NotStarted]] = []
    try:
        results.extend(iter_episodes(jobs, concurrency, budget=budget, **pool_options))
    except Interrupted as stop:
        finished = [(job, r) for job, r in results if isinstance(r, EpisodeResult)]
        raise Interrupted(done=finished + stop.done, planned=stop.planned) from None
    return [result for _, result in results]


def iter_jobs(
    jobs: Sequence[EpisodeJob], concurrency: int
) -> Generator[tuple[EpisodeJob, EpisodeResult], None, None]:
    """`iter_episodes`, where every job must start: each result in job order as soon as it is there.

    So a caller can keep every finished episode even if the run is interrupted later (close
    the iterator, or let it be collected, to stop the episodes still in flight).
    """
    for job, result in iter_episodes(jobs, concurrency):
        if isinstance(result, NotStarted):
            where = f"{job.task.id}#{job.config.trial}"
            raise InfrastructureError(f"episode {where} was not run: {result.reason}")
        yield job, result


@dataclass
class FinishedRun:
    """The episodes of a run of tasks, in task and trial order; `interrupted` if Ctrl-C cut it short."""

    episodes: list[tuple[EpisodeJob, EpisodeResult]]
    started: float
    planned: int
    interrupted: dict[str, Any] | None = field(default=None)


def run_tasks(tasks: Sequence[Task], wiki: str, settings: HarnessSettings) -> FinishedRun:
    """Run every task `settings.trials` times with `wiki`, `settings.concurrency` at once.

    On Ctrl-C it returns the episodes that finished, with `interrupted` set (as the pytest
    plugin records it): the caller must check it and stop.
    """
    started = time.time()
    jobs = [
        EpisodeJob(task, wiki, settings.for_trial(trial))
        for task in tasks
        for trial in range(settings.trials)
    ]
    done: list[tuple[EpisodeJob, EpisodeResult]] = []
    try:
        done.extend(iter_jobs(jobs, settings.concurrency))
    except Interrupted as stop:  # Ctrl-C: keep what finished, marked as such (the caller stops)
        order = {job.key: position for position, job in enumerate(jobs)}
        finished = sorted(done + stop.done, key=lambda pair: order[pair[0].key])
        interrupted = {
            "reason": "interrupted by the user (Ctrl-C)",
            "episodes_done": len(finished),
            "episodes_planned": len(jobs),
        }
        return FinishedRun(finished, started, len(jobs), interrupted)
    return FinishedRun(done, started, len(jobs))
