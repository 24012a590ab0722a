"""A full disk for a child process, without root: a limit on the size of any file it writes.

`RLIMIT_FSIZE` caps the size of every file a process writes; with `SIGXFSZ` ignored, a write
past it fails with `EFBIG` ("File too large"), as a write to a full disk fails with `ENOSPC`:
the file is cut where the limit struck, and the writer must notice. Small files (cache
entries, probes) below the limit are written as usual, so one limit can leave the caches
working and make the scores file and the HTML page fail, or (at 1 byte) fail every write.

Use `preexec_fn=file_size_limit(n)` with `subprocess`, or `run_on_full_disk`. Linux and macOS.
"""

from __future__ import annotations

import resource
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A `preexec_fn` that limits every file the child writes to `max_bytes`."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


def run_on_full_disk(command: Sequence[str], max_bytes: int, **options: Any) -> subprocess.CompletedProcess:
    """`subprocess.run(command)` where no file written can grow past `max_bytes`."""
    return subprocess.run(list(command), preexec_fn=file_size_limit(max_bytes), check=False, **options)
