"""The one way taugepa reads a file or a JSON document it did not just write itself.

Every loader (task files, scores files, recorded runs, audit files, price files, wikis) and
the LLM client read through here, so every input gets the same limits and the same kind of
error: one line saying what is wrong.

- A file is read only up to a size limit (devices such as `/dev/zero` are refused outright);
- JSON is refused when it nests too deep (the decoder's RecursionError becomes a message),
  holds an integer longer than `MAX_INT_DIGITS` digits (Python's own 4,300-digit limit is a
  ValueError the old loaders did not expect), a number too large for a float, or NaN and
  Infinity, which are not JSON;
- every string and key of the result is made safe to store (`taugepa.guards.safe_text`).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError, TaugepaError
from taugepa.guards.limits import MAX_INT_DIGITS, MAX_JSON_DEPTH, human_bytes
from taugepa.guards.safe_text import TooDeep, is_safe_text, safe_data, safe_text

_CHUNK = 1024 * 1024
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_UNSAFE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")


class UnsafeJSON(ValueError):
    """The text is not JSON, or is JSON beyond a limit; `str(error)` says which, in a few words."""

    def __init__(self, reason: str, beyond_limit: bool = True):
        super().__init__(reason)
        self.beyond_limit = beyond_limit  # False: not JSON at all


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise UnsafeJSON(f"an integer with {digits} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise UnsafeJSON(f"the number {shown} is too large")
    return value


def _constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not a number JSON allows", beyond_limit=False)


def parse_json(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON within the limits, with safe strings; raise UnsafeJSON otherwise."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnsafeJSON(f"not UTF-8 text (byte {exc.start})", beyond_limit=False) from None
    try:
        value = json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except UnsafeJSON:
        raise
    except RecursionError:
        raise UnsafeJSON(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and anything else the decoder refuses
        raise UnsafeJSON(str(exc), beyond_limit=False) from None
    # A text without NULs, lone surrogates or their escapes decodes to safe strings only.
    strings_safe = "\x00" not in data and _UNSAFE_ESCAPE.search(data) is None and is_safe_text(data)
    return _checked(value, max_depth, strings_safe)


def nesting_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without decoding it."""
    if text.count("[") + text.count("{") <= 1:
        return int("[" in text or "{" in text)
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _checked(value: Any, max_depth: int, strings_safe: bool = False) -> Any:
    """`value` with safe strings, or UnsafeJSON when it nests deeper than `max_depth`."""
    try:
        return safe_data(value, max_depth=max_depth, strings_known_safe=strings_safe)
    except TooDeep:
        raise UnsafeJSON(f"nested deeper than {max_depth} levels") from None


def read_bounded(
    path: str | Path,
    *,
    what: str,
    max_bytes: int,
    hint: str = "",
    error: type[TaugepaError] = ConfigError,
) -> bytes:
    """The bytes of a file of at most `max_bytes`; anything else is `error` with one line.

    `what` names the file for the message ("scores file"); `hint` follows "not found".
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                raise error(f"{what} {path} is a device, not a file: pass a {what}")
            if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
                raise _too_large(error, what, path, max_bytes)
            data = bytearray()
            while len(data) <= max_bytes:
                chunk = handle.read(min(_CHUNK, max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise error(f"{what} not found: {path}{hint}") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory: pass a {what}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise _too_large(error, what, path, max_bytes)
    return bytes(data)


def _too_large(error: type[TaugepaError], what: str, path: Path, max_bytes: int) -> TaugepaError:
    return error(
        f"{what} {path} is larger than {human_bytes(max_bytes)}, the most taugepa reads for a {what}: "
        "check that it is the right file"
    )


def read_text_file(
    path: str | Path,
    *,
    what: str,
    max_bytes: int,
    hint: str = "",
    error: type[TaugepaError] = ConfigError,
) -> str:
    """A UTF-8 text file of at most `max_bytes`, made safe to store (see `read_bounded`)."""
    data = read_bounded(path, what=what, max_bytes=max_bytes, hint=hint, error=error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what} {path}: not UTF-8 text (byte {exc.start})") from None
    return safe_text(text)


def read_json_file(
    path: str | Path,
    *,
    what: str,
    max_bytes: int,
    hint: str = "",
    error: type[TaugepaError] = ConfigError,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """A JSON file within the limits (see `parse_json`); anything else is `error` with one line."""
    data = read_bounded(path, what=what, max_bytes=max_bytes, hint=hint, error=error)
    try:
        return parse_json(data, max_depth=max_depth)
    except UnsafeJSON as exc:
        raise error(f"{path} is not a readable JSON {what} ({exc})") from None
