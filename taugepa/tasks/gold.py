"""Gold outcomes: replay a task's gold actions once, remember the database digest they produce.

The digest is cached in memory and on disk under a key made of the task's content hash and
the engine fingerprint (engine version, tau2 version, database file hash), so editing a task
or upgrading the engine recomputes it. A task whose gold replay fails is invalid: the engine's
message says why.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from taugepa.files import default_cache_dir, write_json_atomically
from taugepa.guards.notices import cache_warning, warn_once
from taugepa.guards.safe_json import parse_json
from taugepa.tasks.model import Task
from taugepa.world.engine import AirlineWorld, ToolCallError, get_world


@dataclass(frozen=True)
class Gold:
    """What a task's gold actions lead to: a database digest, or the reason they cannot run."""

    db_digest: str | None
    invalid_reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.invalid_reason is None


def replay_gold(task: Task, world: AirlineWorld) -> Gold:
    """Run the gold actions on a fresh database (no caching)."""
    engine = world.new_engine(think_tool=True)
    for number, action in enumerate(task.actions):
        try:
            engine.execute(action.name, action.kwargs)
        except ToolCallError as exc:
            return Gold(
                db_digest=None,
                invalid_reason=f"gold action {number} ({action.name}) fails in the engine: {exc}",
            )
    return Gold(db_digest=engine.db_digest())


class GoldCache:
    """Gold outcomes per task, in memory and (unless disabled) on disk; thread- and process-safe."""

    def __init__(self, directory: Path | None = None, use_disk: bool = True):
        self.directory = (directory or default_cache_dir()) / "gold"
        self.use_disk = use_disk
        self._memory: dict[str, Gold] = {}
        self._lock = threading.Lock()

    def get(self, task: Task, world: AirlineWorld | None = None) -> Gold:
        world = world or get_world()
        key = hashlib.sha256(f"{world.fingerprint}:{task.content_hash}".encode()).hexdigest()
        gold = self._memory.get(key)
        if gold is None:
            gold = self._read(key)
            if gold is None:
                gold = replay_gold(task, world)
                self._write(key, gold)
            with self._lock:
                self._memory[key] = gold
        return gold

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def _read(self, key: str) -> Gold | None:
        if not self.use_disk:
            return None
        try:
            data = parse_json(self._path(key).read_bytes())
            digest, reason = data["db_digest"], data["invalid_reason"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged entries are simply recomputed
        if not isinstance(digest, str | None) or not isinstance(reason, str | None):
            return None
        return Gold(db_digest=digest, invalid_reason=reason)

    def _write(self, key: str, gold: Gold) -> None:
        if not self.use_disk:
            return
        document = {"db_digest": gold.db_digest, "invalid_reason": gold.invalid_reason}
        try:
            write_json_atomically(self._path(key), document, compact=True)
        except OSError as exc:  # an unwritable cache costs speed, never correctness: said once
            warn_once(
                f"gold-cache:{self.directory}",
                cache_warning(
                    "gold cache",
                    self.directory,
                    exc.strerror or str(exc),
                    "each process replays the gold of every task again",
                ),
            )


_default_cache: GoldCache | None = None


def default_gold_cache() -> GoldCache:
    """The process-wide gold cache in the default directory."""
    global _default_cache
    if _default_cache is None:
        _default_cache = GoldCache()
    return _default_cache
