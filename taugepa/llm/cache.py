"""The on-disk cache of LLM responses: an identical request is answered without the network.

The key is a hash of everything that shapes the answer: the endpoint, the model, the
messages, the tools, the sampling settings (temperature, seed...), never the API key. A
value is the response body (the completion as JSON), written to a temporary file and
renamed into place, so several threads and processes (pytest-xdist workers) can share one
cache: a reader sees a whole entry or none. Only successful responses are stored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from taugepa.files import write_json_atomically

CACHE_FORMAT = 1  # bump when the key or the stored value changes meaning


def default_llm_cache_dir() -> Path:
    """`<taugepa cache dir>/llm` (see `taugepa.gold.default_cache_dir`)."""
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
        try:
            entry = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("response"), dict):
            return None
        return entry["response"]

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store a successful response; an unwritable cache costs money, never correctness."""
        try:
            write_json_atomically(self._path(key), {"response": response}, compact=True)
        except OSError:
            pass
