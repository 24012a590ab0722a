"""Warnings that matter once per process, such as a cache that cannot be written.

A cache that cannot be written costs time or money on every rerun but never correctness,
so taugepa goes on; it says so in one line, once, instead of on every episode (or, as it
used to, never). The line goes to the `taugepa` logger: on the terminal for the command line
(Python prints warnings of an unconfigured logger to stderr), and into the captured log of a
test under pytest, where the plugin also checks its cache folders up front and prints any
problem at the start of the run.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("taugepa")

_warned: set[str] = set()
_said: list[str] = []  # the warnings given, in order (a run repeats them at its end)
_lock = threading.Lock()


def warn_once(key: str, message: str) -> bool:
    """Log `message` as a warning the first time `key` is seen in this process; True if it was."""
    with _lock:
        if key in _warned:
            return False
        _warned.add(key)
        _said.append(message)
    log.warning("taugepa: warning: %s", message)
    return True


def given_warnings() -> list[str]:
    """Every warning `warn_once` gave in this process: under pytest they went into a test's
    captured log, so the benchmark repeats them where they are seen, above its verdict."""
    with _lock:
        return list(_said)


def cache_warning(name: str, directory: object, problem: str, consequence: str) -> str:
    return f"the {name} at {directory} cannot be written ({problem}): {consequence}"
