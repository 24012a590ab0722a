"""Output paths checked before a run starts: a folder, a device or an unwritable place is one line.

A run that finds out at the end that it cannot write its scores file has spent its time and
money for nothing, so every command checks where its outputs go first: the path must not be
a folder (or, for a folder option, a file) nor a device (replacing `/dev/null` with a file
would be worse than failing), and a file must be creatable there, which is tried for real
(a temporary file is made and removed), since permission bits say nothing for root or a
read-only file system.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from taugepa.errors import ConfigError


def _existing_ancestor(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def directory_problem(directory: str | Path) -> str | None:
    """Why files cannot be created in `directory` (made if missing), or None when they can."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        return f"{target} is a file, not a folder"
    ancestor = _existing_ancestor(target)
    if not ancestor.is_dir():
        return f"{ancestor} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=ancestor, prefix=".taugepa-probe-"):
            pass
    except OSError as exc:
        return f"cannot create files in {ancestor} ({exc.strerror or exc})"
    return None


def output_file_problem(path: str | Path) -> str | None:
    """Why a file cannot be written (atomically) at `path`, or None when it can."""
    target = Path(path)
    if target.is_dir():
        return "is a folder: give a file path"
    if target.exists() and not target.is_file():
        return "is not a regular file (a device or a pipe): give a file path"
    problem = directory_problem(target.parent)
    return None if problem is None else f"cannot be written: {problem}: give a path taugepa can write to"


def check_output_file(path: str | Path, flag: str) -> None:
    """Raise a one-line ConfigError when `flag`'s file cannot be written at `path`."""
    problem = output_file_problem(path)
    if problem is not None:
        raise ConfigError(f"{flag} {path} {problem}")


def check_output_dir(path: str | Path, flag: str) -> None:
    """Raise a one-line ConfigError when `flag`'s folder cannot be used at `path`."""
    problem = directory_problem(path)
    if problem is not None:
        raise ConfigError(f"{flag} {path} cannot be used: {problem}: give a folder taugepa can write in")
