"""Task audits: replay each task's gold against the policy rules and say what is wrong with it.

`audit_tasks(tasks, policy)` returns an `AuditReport`: per task a status and its findings.
Statuses, worst first:
- `invalid`: the gold cannot be replayed (the harness reports such tasks as skipped);
- `violates`: the gold does something the policy clearly forbids (a `definite` finding);
- `doubtful`: a `possible` or `defect` finding;
- `clean`: nothing but `info`.
`free_pass` is orthogonal: the gold writes nothing and requires no output, so an agent
that does nothing passes.

The harness selects tasks by audit status (`select_tasks`), and the GEPA optimizer can train
on clean tasks only and tell its reflection when a failing task's gold breaks the policy
(`gold_policy_note`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.rules.catalog import check_sequence
from taugepa.rules.registry import (
    DEFECT,
    DEFINITE,
    INFO,
    POSSIBLE,
    RULES_VERSION,
    Finding,
    Hit,
    RuleContext,
)
from taugepa.rules.task_checks import REPLAY_ERROR, task_findings
from taugepa.tasks.model import Task, TaskSource
from taugepa.world.engine import AirlineWorld, get_world, write_tool_names
from taugepa.world.facts import EngineState
from taugepa.world.policy import Policy

AUDIT_FORMAT = "taugepa-audit"
AUDIT_VERSION = 1

CLEAN, DOUBTFUL, VIOLATES, INVALID = "clean", "doubtful", "violates", "invalid"
STATUSES = (CLEAN, DOUBTFUL, VIOLATES, INVALID)

# --task-filter modes: which audit statuses a mode keeps.
FILTERS: dict[str, str] = {
    "all": "every task",
    "clean": "tasks whose gold has no finding but info (valid, policy-compliant, not broken)",
    "compliant": "valid tasks with no definite policy violation (clean or doubtful)",
    "flagged": "tasks that are not clean",
    "violates": "tasks whose gold clearly breaks the policy",
    "free-pass": "tasks an agent that does nothing passes",
}


@dataclass
class TaskAudit:
    """The audit of one task."""

    task_id: str
    group: str
    difficulty: str | None
    content_hash: str
    writes: int
    outputs: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def severities(self) -> Counter[str]:
        return Counter(f.severity for f in self.findings)

    @property
    def free_pass(self) -> bool:
        return any(f.rule == "task.free_pass" for f in self.findings)

    @property
    def status(self) -> str:
        if any(f.rule == REPLAY_ERROR.id for f in self.findings):
            return INVALID
        severities = self.severities
        if severities[DEFINITE]:
            return VIOLATES
        if severities[POSSIBLE] or severities[DEFECT]:
            return DOUBTFUL
        return CLEAN

    @property
    def flags(self) -> list[str]:
        """`rule:severity` for every finding but info, in order, without repeats."""
        return list(dict.fromkeys(f"{f.rule}:{f.severity}" for f in self.findings if f.severity != INFO))

    def brief(self) -> dict[str, Any]:
        """What a scores file or report row carries about the task's audit."""
        return {"status": self.status, "free_pass": self.free_pass, "flags": self.flags}

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "group": self.group,
            "difficulty": self.difficulty,
            "content_hash": self.content_hash,
            "status": self.status,
            "free_pass": self.free_pass,
            "writes": self.writes,
            "outputs": self.outputs,
            "severities": dict(sorted(self.severities.items())),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskAudit:
        return cls(
            task_id=data["task_id"],
            group=data["group"],
            difficulty=data.get("difficulty"),
            content_hash=data["content_hash"],
            writes=data["writes"],
            outputs=data["outputs"],
            findings=[Finding.from_dict(f) for f in data["findings"]],
        )


def audit_task(task: Task, policy: Policy, world: AirlineWorld | None = None) -> TaskAudit:
    """Replay the task's gold on a fresh database, checking every write against the policy."""
    world = world or get_world()
    writes = write_tool_names()
    context = RuleContext(policy=policy, user_id=task.user_id or None, instruction=task.instruction)
    findings, failure = check_sequence(world.new_engine(think_tool=True), task.actions, context)
    if failure is not None:
        index, exc = failure
        name = task.actions[index].name
        findings.append(
            REPLAY_ERROR.finding(
                Hit(DEFECT, f"gold action {index} ({name}) fails in the engine: {exc}"), policy, index, name
            )
        )
    findings.extend(task_findings(task, EngineState(world.new_engine()), policy))
    findings.sort(key=lambda f: f.action_index if f.action_index is not None else -1)
    return TaskAudit(
        task_id=task.id,
        group=task.group,
        difficulty=task.difficulty,
        content_hash=task.content_hash,
        writes=sum(1 for a in task.actions if a.name in writes),
        outputs=len(task.outputs),
        findings=findings,
    )


@dataclass
class AuditReport:
    """The audit of a set of tasks against one policy."""

    policy: dict[str, Any]
    tasks: list[TaskAudit]
    engine: dict[str, Any] = field(default_factory=dict)
    task_sources: list[dict[str, Any]] = field(default_factory=list)
    rules_version: str = RULES_VERSION

    def by_id(self) -> dict[str, TaskAudit]:
        return {audit.task_id: audit for audit in self.tasks}

    def summary(self, examples: int = 3) -> dict[str, Any]:
        """Counts by status, by group and by rule, with a few examples per rule."""
        return summarize(self.tasks, examples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": AUDIT_FORMAT,
            "version": AUDIT_VERSION,
            "rules_version": self.rules_version,
            "policy": self.policy,
            "engine": self.engine,
            "task_sources": self.task_sources,
            "summary": self.summary(),
            "tasks": [audit.to_dict() for audit in self.tasks],
        }

    def write(self, path: str | Path) -> None:
        from taugepa.files import write_json_atomically

        write_json_atomically(Path(path), self.to_dict())


def audit_tasks(
    tasks: Iterable[Task],
    policy: Policy,
    *,
    world: AirlineWorld | None = None,
    sources: Sequence[TaskSource] = (),
) -> AuditReport:
    """Audit every task against `policy` (a few milliseconds per task)."""
    from dataclasses import asdict

    world = world or get_world()
    return AuditReport(
        policy=policy.describe(),
        tasks=[audit_task(task, policy, world) for task in tasks],
        engine=dict(world.info),
        task_sources=[asdict(source) for source in sources],
    )


def summarize(audits: Sequence[TaskAudit], examples: int = 3) -> dict[str, Any]:
    statuses = Counter(a.status for a in audits)
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: dict[str, dict[str, Any]] = {}
    for audit in audits:
        group = by_group[audit.group]
        group["tasks"] += 1
        group[audit.status] += 1
        group["free_pass"] += audit.free_pass
        seen: set[tuple[str, str]] = set()
        for finding in audit.findings:
            entry = by_rule.setdefault(
                finding.rule,
                {"findings": Counter(), "tasks": Counter(), "by_group": defaultdict(Counter), "examples": []},
            )
            entry["findings"][finding.severity] += 1
            if (finding.rule, finding.severity) not in seen:
                seen.add((finding.rule, finding.severity))
                entry["tasks"][finding.severity] += 1
                entry["by_group"][audit.group][finding.severity] += 1
            if len(entry["examples"]) < examples and audit.task_id not in {
                e["task_id"] for e in entry["examples"]
            }:
                entry["examples"].append(
                    {"task_id": audit.task_id, "severity": finding.severity, "message": finding.message}
                )
    return {
        "tasks": len(audits),
        "status": {status: statuses.get(status, 0) for status in STATUSES},
        "free_pass": sum(a.free_pass for a in audits),
        "by_group": {
            name: {key: counts.get(key, 0) for key in ("tasks", *STATUSES, "free_pass")}
            for name, counts in sorted(by_group.items())
        },
        "by_rule": {
            rule: {
                "findings": dict(sorted(entry["findings"].items())),
                "tasks": dict(sorted(entry["tasks"].items())),
                "by_group": {g: dict(sorted(c.items())) for g, c in sorted(entry["by_group"].items())},
                "examples": entry["examples"],
            }
            for rule, entry in sorted(by_rule.items())
        },
    }


def load_audit(path: str | Path) -> AuditReport:
    """Read an audit file written by `taugepa audit`; anything else is one clear ConfigError."""
    from taugepa.guards.limits import MAX_AUDIT_FILE_BYTES
    from taugepa.guards.safe_json import read_json_file
    from taugepa.guards.validation import shown
    from taugepa.rules.audit_schema import check_audit

    path = Path(path)
    document = read_json_file(
        path,
        what="audit file",
        max_bytes=MAX_AUDIT_FILE_BYTES,
        hint=f" (write one with: taugepa audit --out {path})",
    )
    if not isinstance(document, dict) or document.get("format") != AUDIT_FORMAT:
        raise ConfigError(
            f'{path} is not a taugepa audit file (no "format": "{AUDIT_FORMAT}"): run taugepa audit'
        )
    if document.get("version") != AUDIT_VERSION:
        raise ConfigError(
            f"{path} is a version {shown(document.get('version'))} audit file; this taugepa reads "
            f"version {AUDIT_VERSION}: rerun taugepa audit"
        )
    check_audit(document, str(path))
    return AuditReport(
        policy=document.get("policy", {}),
        tasks=[TaskAudit.from_dict(entry) for entry in document["tasks"]],
        engine=document.get("engine", {}),
        task_sources=document.get("task_sources", []),
        rules_version=str(document.get("rules_version")),
    )


def audits_for(
    tasks: Sequence[Task], report: AuditReport, where: str = "the audit file"
) -> dict[str, TaskAudit]:
    """The audit of each task, checking that the report covers it as it is now.

    A task missing from the report, or changed since it was audited, is a ConfigError: an
    audit must never silently speak for a different task.
    """
    by_id = report.by_id()
    found = {}
    for task in tasks:
        audit = by_id.get(task.id)
        if audit is None:
            raise ConfigError(f"{where} has no entry for task {task.id}: audit the same task files you run")
        if audit.content_hash != task.content_hash:
            raise ConfigError(
                f"{where} is stale for task {task.id} (the task changed since): rerun taugepa audit"
            )
        found[task.id] = audit
    if report.rules_version != RULES_VERSION:
        raise ConfigError(
            f"{where} was made with audit rules version {report.rules_version}, this taugepa has "
            f"{RULES_VERSION}: rerun taugepa audit"
        )
    return found


def keeps(audit: TaskAudit, mode: str) -> bool:
    """Whether a --task-filter mode keeps a task with this audit."""
    if mode == "all":
        return True
    if mode == "clean":
        return audit.status == CLEAN
    if mode == "compliant":
        return audit.status in (CLEAN, DOUBTFUL)
    if mode == "flagged":
        return audit.status != CLEAN
    if mode == "violates":
        return audit.status == VIOLATES
    if mode == "free-pass":
        return audit.free_pass
    raise ConfigError(f"unknown task filter {mode!r}: choose one of {', '.join(FILTERS)}")


def select_tasks(tasks: Sequence[Task], audits: dict[str, TaskAudit], mode: str) -> list[Task]:
    """The tasks a --task-filter mode keeps, in their order."""
    if mode not in FILTERS:
        raise ConfigError(f"unknown task filter {mode!r}: choose one of {', '.join(FILTERS)}")
    return [task for task in tasks if keeps(audits[task.id], mode)]


def clean_tasks(
    tasks: Sequence[Task], policy: Policy | None = None, report: AuditReport | None = None
) -> list[Task]:
    """The clean tasks among `tasks` (auditing them against `policy` unless a report is given).

    For the GEPA optimizer: train and validate on tasks whose gold follows the policy.
    """
    if report is None:
        from taugepa.world.policy import load_policy

        report = audit_tasks(tasks, policy or load_policy())
    return select_tasks(tasks, audits_for(tasks, report), "clean")


def gold_policy_note(audit: TaskAudit | None) -> str | None:
    """A sentence for a reflective record when the task's own gold breaks the policy, else None.

    GEPA's reflection should not learn from a failure whose "right answer" is itself wrong.
    """
    if audit is None or audit.status in (CLEAN,):
        return None
    serious = [f for f in audit.findings if f.severity in (DEFINITE, DEFECT, POSSIBLE)]
    if not serious:
        return None
    if audit.status == INVALID:
        lead = "This task is invalid: its gold actions cannot be replayed."
    elif audit.status == VIOLATES:
        lead = (
            "Warning: this task's expected (gold) actions themselves break the policy, so a "
            "policy-following agent fails it."
        )
    else:
        lead = (
            "Caution: this task's expected (gold) actions may not follow the policy or the task is "
            "inconsistent."
        )
    details = "; ".join(
        f"[{f.severity}] {f.rule}"
        + (f" at action {f.action_index}" if f.action_index is not None else "")
        + f": {f.message}"
        for f in serious[:4]
    )
    return f"{lead} {details}"
