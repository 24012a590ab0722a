"""The on-disk cache of LLM responses: an identical request is answered without the network.

The key is a hash of everything that shapes the answer: the endpoint, the model, the
messages, the tools, the sampling settings (temperature, seed...), never the API key. A
value is the response body (the completion as JSON), written to a temporary file and
renamed into place, so several threads and processes (pytest-xdist workers) can share one
cache: a reader sees a whole entry or none. Only successful responses are stored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from taugepa.files import write_json_atomically
from taugepa.guards.limits import MAX_RESPONSE_BYTES
from taugepa.guards.notices import cache_warning, warn_once
from taugepa.guards.safe_json import parse_json

CACHE_FORMAT = 1  # bump when the key or the stored value changes meaning


def default_llm_cache_dir() -> Path:
    """`<taugepa cache dir>/llm` (see `taugepa.files.default_cache_dir`)."""
    from taugepa.files import default_cache_dir

    return default_cache_dir() / "llm"


def request_key(base_url: str, body: bytes) -> str:
    """The cache key of a request: the endpoint and the exact JSON body sent to it."""
    digest = hashlib.sha256(f"taugepa-llm-cache:{CACHE_FORMAT}\n{base_url}\n".encode())
    digest.update(body)
    return digest.hexdigest()


class ResponseCache:
    """Response bodies by request key, one small JSON file each, safe for many processes."""

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else default_llm_cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response, or None when missing or unreadable (a damaged entry is a miss)."""
        path = self._path(key)
        try:
            if path.stat().st_size > 2 * MAX_RESPONSE_BYTES:
                return None
            entry = parse_json(path.read_bytes())
        except (OSError, ValueError):  # missing, unreadable, or not JSON within the limits
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("response"), dict):
            return None
        return entry["response"]

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store a successful response; an unwritable cache costs money, never correctness.

        It is said once per process (a warning line), not on every answer, nor never.
        """
        try:
            write_json_atomically(self._path(key), {"response": response}, compact=True)
        except OSError as exc:
            warn_once(
                f"llm-cache:{self.directory}",
                cache_warning(
                    "LLM response cache",
                    self.directory,
                    exc.strerror or str(exc),
                    "answers are not cached, so a rerun asks the endpoint (and pays) again",
                ),
            )
