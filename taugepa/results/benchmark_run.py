"""Run a set of tasks with one wiki outside pytest (same loop, same entries, same scores file).

Used by `taugepa compare` when given wikis instead of scores files, and by the GEPA
adapter's in-process evaluation: episodes go through `taugepa.episode.runner.iter_episodes`
(`run_episode` on threads) and become the scores-file entries the plugin writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from taugepa.episode.run import EpisodeResult
from taugepa.episode.runner import EpisodeJob, NotStarted, iter_episodes
from taugepa.errors import InfrastructureError, Interrupted
from taugepa.results.scores import build_scores, episode_entry, run_info, timing_since
from taugepa.tasks.model import Task, TaskSource


def iter_jobs(jobs: Sequence[EpisodeJob], concurrency: int) -> Iterator[tuple[EpisodeJob, EpisodeResult]]:
    """`iter_episodes`, where every job must start: each result in job order as soon as it is there.

    So a caller can keep every finished episode even if the run is interrupted later (close
    the iterator, or let it be collected, to stop the episodes still in flight).
    """
    for job, result in iter_episodes(jobs, concurrency):
        if isinstance(result, NotStarted):
            where = f"{job.task.id}#{job.config.trial}"
            raise InfrastructureError(f"episode {where} was not run: {result.reason}")
        yield job, result


def run_jobs(jobs: Sequence[EpisodeJob], concurrency: int) -> list[tuple[EpisodeJob, EpisodeResult]]:
    """Run the jobs (up to `concurrency` at once); every job must start. On Ctrl-C,
    `Interrupted.done` holds every finished episode."""
    done: list[tuple[EpisodeJob, EpisodeResult]] = []
    try:
        done.extend(iter_jobs(jobs, concurrency))
    except Interrupted as stop:
        raise Interrupted(done=done + stop.done, planned=stop.planned) from None
    return done


def benchmark_scores(
    tasks: Sequence[Task],
    sources: Sequence[TaskSource],
    wiki_text: str,
    wiki_path: str,
    harness: Any,
) -> dict[str, Any]:
    """Run every task `harness.trials` times with `wiki_text`; return the scores document.

    On Ctrl-C it returns the episodes that finished, with an `interrupted` section (as the
    pytest plugin writes it): the caller must check for it and stop.
    """
    started = time.time()
    jobs = [
        EpisodeJob(task, wiki_text, harness.episode_config(trial))
        for task in tasks
        for trial in range(harness.trials)
    ]
    interrupted = None
    try:
        finished = run_jobs(jobs, harness.concurrency)
    except Interrupted as stop:  # Ctrl-C: keep what finished, marked as such (the caller stops)
        order = {job.key: position for position, job in enumerate(jobs)}
        finished = sorted(stop.done, key=lambda pair: order[pair[0].key])
        interrupted = {
            "reason": "interrupted by the user (Ctrl-C)",
            "episodes_done": len(finished),
            "episodes_planned": len(jobs),
        }
    entries = [episode_entry(job.task, result.to_dict()) for job, result in finished]
    scores = harness_scores(harness, entries, sources, wiki_text, wiki_path, started)
    if interrupted:
        scores["interrupted"] = interrupted
    return scores


def harness_scores(
    harness: Any,
    entries: Sequence[dict[str, Any]],
    sources: Sequence[TaskSource],
    wiki_text: str,
    wiki_path: str,
    started: float,
    *,
    trials: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scores document of episodes run outside pytest with `harness`'s settings."""
    llm = harness.llm
    run = run_info(
        wiki_path=wiki_path,
        wiki_text=wiki_text,
        agent=harness.agent,
        trials=trials or harness.trials,
        max_steps=harness.max_steps,
        think_tool=harness.think_tool,
        task_sources=sources,
        models={"agent": llm.agent_model, "user": llm.user_model} if llm else None,
        extra={**({"llm": llm.describe()} if llm else {}), **(extra or {})} or None,
    )
    return build_scores(run, entries, timing_since(started))
