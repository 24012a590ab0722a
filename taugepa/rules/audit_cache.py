"""Task audits kept on disk, so that a run audits each task once, not once per process or per run.

A benchmark labels every episode with its task's audit (a few milliseconds of gold replay
and rule checks per task, more than an oracle episode costs); pytest-xdist workers and
repeated runs would otherwise redo it. An entry is keyed by everything the audit depends on:
the task's content hash, the policy text's sha256, the rules version, the engine fingerprint
(tau2's version and database) and a digest of the source of the rule and world modules, so
an edited rule never reads a stale entry even when RULES_VERSION was not bumped. Entries are
written atomically; several processes may fill the cache at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from pathlib import Path

from taugepa.files import default_cache_dir, write_json_atomically
from taugepa.rules.audit import TaskAudit, audit_task
from taugepa.rules.registry import RULES_VERSION, Finding
from taugepa.tasks.model import Task
from taugepa.world.engine import AirlineWorld, get_world
from taugepa.world.policy import Policy

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@cache
def rules_code_digest() -> str:
    """A hash of the source of the modules an audit runs (the rules and the airline world)."""
    digest = hashlib.sha256()
    for folder in ("rules", "world"):
        for source in sorted((_PACKAGE_ROOT / folder).glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


class AuditCache:
    """Audits per task, in memory and (unless disabled) on disk; thread- and process-safe."""

    def __init__(self, directory: Path | None = None, use_disk: bool = True):
        self.directory = (directory or default_cache_dir()) / "audit"
        self.use_disk = use_disk
        self._memory: dict[str, TaskAudit] = {}
        self._lock = threading.Lock()

    def key(self, task: Task, policy: Policy, world: AirlineWorld) -> str:
        parts = (RULES_VERSION, rules_code_digest(), world.fingerprint, policy.sha256, task.content_hash)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def get(self, task: Task, policy: Policy, world: AirlineWorld | None = None) -> TaskAudit:
        world = world or get_world()
        key = self.key(task, policy, world)
        with self._lock:
            audit = self._memory.get(key)
        if audit is None:
            audit = self._read(key, task)
            if audit is None:
                audit = audit_task(task, policy, world)
                self._write(key, audit)
            with self._lock:
                self._memory[key] = audit
        return _for(task, audit)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def _read(self, key: str, task: Task) -> TaskAudit | None:
        if not self.use_disk:
            return None
        try:
            data = json.loads(self._path(key).read_text())
            return TaskAudit(
                task_id=task.id,
                group=task.group,
                difficulty=task.difficulty,
                content_hash=task.content_hash,
                writes=int(data["writes"]),
                outputs=int(data["outputs"]),
                findings=[Finding.from_dict(entry) for entry in data["findings"]],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged entries are simply recomputed

    def _write(self, key: str, audit: TaskAudit) -> None:
        if not self.use_disk:
            return
        document = {
            "writes": audit.writes,
            "outputs": audit.outputs,
            "findings": [finding.to_dict() for finding in audit.findings],
        }
        try:
            write_json_atomically(self._path(key), document, compact=True)
        except OSError:
            pass  # an unwritable cache costs speed, never correctness


def _for(task: Task, audit: TaskAudit) -> TaskAudit:
    """The audit labelled with this task's id and group (equal tasks may differ in those)."""
    if (audit.task_id, audit.group, audit.difficulty) == (task.id, task.group, task.difficulty):
        return audit
    return TaskAudit(
        task_id=task.id,
        group=task.group,
        difficulty=task.difficulty,
        content_hash=task.content_hash,
        writes=audit.writes,
        outputs=audit.outputs,
        findings=list(audit.findings),
    )


_default_cache: AuditCache | None = None


def default_audit_cache() -> AuditCache:
    """The process-wide audit cache in the default directory."""
    global _default_cache
    if _default_cache is None:
        _default_cache = AuditCache()
    return _default_cache
