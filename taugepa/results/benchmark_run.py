"""The scores document of episodes run outside pytest, as the pytest plugin writes it.

Used by `taugepa compare` when given wikis instead of scores files and by the optimizer's
transfer step: the episodes run in `taugepa.episode.runner` (`run_tasks`); this module
only turns them into the scores file's entries and header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taugepa.episode.runner import FinishedRun
from taugepa.episode.settings import HarnessSettings
from taugepa.results.scores import build_scores, episode_entry, run_header, timing_since
from taugepa.tasks.model import TaskSource


def run_scores(
    run: FinishedRun, settings: HarnessSettings, sources: Sequence[TaskSource], wiki_text: str, wiki_path: str
) -> dict[str, Any]:
    """The scores document of a finished run (with its `interrupted` section if Ctrl-C cut it)."""
    entries = [episode_entry(job.task, result.to_dict()) for job, result in run.episodes]
    scores = harness_scores(settings, entries, sources, wiki_text, wiki_path, run.started)
    if run.interrupted:
        scores["interrupted"] = run.interrupted
    return scores


def harness_scores(
    settings: HarnessSettings,
    entries: Sequence[dict[str, Any]],
    sources: Sequence[TaskSource],
    wiki_text: str,
    wiki_path: str,
    started: float,
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scores document of episodes run with `settings`."""
    run = run_header(settings, wiki_path=wiki_path, wiki_text=wiki_text, task_sources=sources, extra=extra)
    return build_scores(run, entries, timing_since(started))
