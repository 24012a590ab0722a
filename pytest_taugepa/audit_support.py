"""Task audits in a benchmark session: select tasks by audit status, label every episode.

Each task's audit comes from an audit file (`--audit`, written by `taugepa audit`) or is
computed against the run's wiki: for all tasks at start-up when `--task-filter` needs them
(about 2 ms per task), otherwise lazily for the tasks each worker runs. Computed audits go
through the on-disk audit cache (`taugepa.rules.audit_cache`), so each task is audited once
per run, not once per process: under pytest-xdist the controller audits for the filter and
its workers read the result, and a rerun audits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_taugepa.options import BenchmarkSettings
from taugepa.errors import ConfigError
from taugepa.rules.audit import STATUSES, TaskAudit, audits_for, load_audit, select_tasks
from taugepa.rules.audit_cache import default_audit_cache
from taugepa.tasks.model import Task, TaskCollection
from taugepa.world.policy import Policy


@dataclass
class TaskAudits:
    """The audit of each task in this session."""

    policy: Policy
    source: str  # the audit file, or "computed" (against the run's wiki)
    audits: dict[str, TaskAudit]
    task_filter: str
    total: int  # tasks loaded before the filter
    file_policy_sha256: str | None = None

    def for_task(self, task: Task) -> TaskAudit:
        audit = self.audits.get(task.id)
        if audit is None:
            audit = self.audits[task.id] = default_audit_cache().get(task, self.policy)
        return audit

    def run_info(self, kept: int) -> dict[str, Any]:
        """What the scores file records about the audit behind the run."""
        computed = self.source == "computed"
        return {
            "source": self.source,
            "policy_sha256": self.policy.sha256 if computed else self.file_policy_sha256,
            "task_filter": self.task_filter,
            "tasks_loaded": self.total,
            "tasks_run": kept,
        }


def prepare(settings: BenchmarkSettings, collection: TaskCollection) -> tuple[TaskAudits, TaskCollection]:
    """The session's audits and the tasks `--task-filter` keeps (ConfigError if it keeps none)."""
    policy = Policy.from_text(settings.wiki_text, str(settings.wiki_path))
    tasks = collection.tasks
    file_policy_sha = None
    selection = settings.tasks
    if selection.audit_path is not None:
        report = load_audit(selection.audit_path)
        audits = audits_for(tasks, report, where=f"audit file {selection.audit_path}")
        source = str(selection.audit_path)
        file_policy_sha = report.policy.get("sha256")
    elif selection.task_filter != "all":
        cache = default_audit_cache()
        audits = {task.id: cache.get(task, policy) for task in tasks}
        source = "computed"
    else:
        audits, source = {}, "computed"
    state = TaskAudits(policy, source, audits, selection.task_filter, len(tasks), file_policy_sha)
    if selection.task_filter == "all":
        return state, collection
    kept = select_tasks(tasks, audits, selection.task_filter)
    if not kept:
        raise ConfigError(
            f"--task-filter {selection.task_filter} keeps none of the {len(tasks)} tasks loaded "
            "(see their statuses with: taugepa audit)"
        )
    return state, TaskCollection(tasks=kept, sources=collection.sources)


def summary_lines(
    summary: dict[str, Any], entries: Sequence[dict[str, Any]], agent: str, audits: TaskAudits | None
) -> list[str]:
    """Terminal lines about the audit: statuses and pass rate per status, the free passes."""
    block = summary.get("audit")
    if not block:
        return []
    source = "audit file " + Path(audits.source).name if audits and audits.source != "computed" else "audited"
    policy = audits.policy.label if audits else "the wiki"
    parts = []
    for status in STATUSES:
        tally = block["by_status"].get(status)
        if tally:  # tasks, not episodes: with --trials, a task has several
            tasks = len({e["task_id"] for e in entries if (e.get("audit") or {}).get("status") == status})
            rate = "n/a" if tally["pass_rate"] is None else f"{tally['pass_rate']:.1%}"
            parts.append(f"{tasks} {status} (pass rate {rate})")
    lines = [f"audit ({source} against {policy}): " + " · ".join(parts)]
    if audits and audits.task_filter != "all":
        lines.append(
            f"task filter {audits.task_filter}: ran {summary['tasks']} of {audits.total} tasks loaded"
        )
    free = block["free_pass"]
    free_tasks = free["passed"] + free["failed"] + free["invalid"] + free["error"]
    if free_tasks:
        lines.append(
            f"free passes (gold writes nothing, no output required: doing nothing passes): {free_tasks} "
            f"episodes, {free['passed']} passed"
        )
    if agent == "null":
        passed = [e for e in entries if e["outcome"] == "passed"]
        freebies = [e for e in passed if (e.get("audit") or {}).get("free_pass")]
        task_ids = list(dict.fromkeys(e["task_id"] for e in passed))  # each task once, whatever the trials
        shown = ", ".join(task_ids[:8]) + (" …" if len(task_ids) > 8 else "")
        lines.append(
            f"the null agent passed {len(passed)} episode(s) on {len(task_ids)} task(s), "
            f"{len(freebies)} of the episodes free passes" + (f": {shown}" if passed else "")
        )
    return lines
