"""Writing result files so that a reader never sees half of one.

Text goes to a temporary file beside the target and is renamed over it, so a crash or a
full disk leaves either the old file or the complete new one. The new file gets the usual
permissions (0666 minus the umask), not the private mode temporary files are created with.

Text is made safe where it enters taugepa (`taugepa.guards.safe_text`); should a lone surrogate
reach a writer anyway, it is written as the escape `\\udXXX` instead of failing the write,
which in a JSON string is exactly the JSON escape of that character.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class OutputNotWritten(OSError):
    """A result file could not be written (a full or read-only disk, a file-size limit).

    An OSError still, so that a cache that catches OSError keeps going; `str(error)` is the
    line for the user, naming the path and the cause. Writers go through a temporary file and
    a rename (`taugepa.files`), so whatever was at the path before is left as it was.
    """

    def __init__(self, path: object, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = str(path)
        self.cause = cause.strerror or type(cause).__name__

    def __str__(self) -> str:
        return (
            f"{self.path} was not written ({self.cause}): free some space or write it elsewhere "
            "(nothing partial was left in its place)"
        )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_FILE_MODE = 0o666 & ~_umask()


def write_text_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step."""
    write_bytes_atomically(path, text.encode("utf-8", errors="backslashreplace"))


def write_json_atomically(path: Path, document: Any, compact: bool = False) -> None:
    """Replace `path` with `document` as JSON in one step (indented, unless `compact`)."""
    text = json.dumps(document, ensure_ascii=False, indent=None if compact else 1)
    write_text_atomically(path, text + "\n")


def default_cache_dir() -> Path:
    """`$TAUGEPA_CACHE_DIR`, else `$XDG_CACHE_HOME/taugepa`, else `~/.cache/taugepa`.

    A process with no home folder (some CI and container users) gets a folder in the
    temporary directory instead: caches save time, and their absence must never stop a run.
    """
    if os.environ.get("TAUGEPA_CACHE_DIR"):
        return Path(os.environ["TAUGEPA_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "taugepa"
    try:
        return Path.home() / ".cache" / "taugepa"
    except (RuntimeError, KeyError):  # no home folder
        return Path(tempfile.gettempdir()) / f"taugepa-cache-{os.getuid()}"


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (for caches that several processes fill at once).

    Any OSError (a full or read-only disk) becomes `OutputNotWritten`, one line naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise OutputNotWritten(path, exc) from None
    try:
        with handle:
            handle.write(data)
        os.chmod(handle.name, _FILE_MODE)
        os.replace(handle.name, path)
    except OSError as exc:  # a full or read-only disk: the old file (if any) stays, no temporary file
        Path(handle.name).unlink(missing_ok=True)
        raise OutputNotWritten(path, exc) from None
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
