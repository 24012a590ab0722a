"""A provider's prompt cache, as the scripted server reports it: `prompt_tokens_details.cached_tokens`.

OpenAI caches the longest prefix of a prompt it has seen before, from 1,024 tokens on, in
steps of 128 tokens; the tools come first, then the messages in order. `PromptCache` does the
same with the scripted server's token count (a quarter of the bytes): the prompt's prefixes
are the tools and each message in turn, and the cached tokens of a request are those of its
longest prefix an earlier request had, rounded down to a step of 128 (0 below 1,024). A
request whose system prompt or tools change within a run therefore gets nothing from the
cache, as on a real provider.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

MIN_CACHED_TOKENS = 1024
CACHE_STEP = 128
MAX_PREFIXES = 200_000  # forget everything beyond this many prefixes (a bounded test server)


def _tokens(size: int) -> int:
    return size // 4


class PromptCache:
    """The prefixes seen so far; `cached_tokens(body)` for each request, in arrival order."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def cached_tokens(self, body: dict[str, Any]) -> int:
        """The tokens of the longest earlier prefix of this request (rounded as OpenAI does)."""
        parts = [body.get("model"), body.get("tools")] + list(body.get("messages") or [])
        digest = hashlib.sha256()
        prefixes: list[tuple[bytes, int]] = []
        size = 0
        for position, part in enumerate(parts):
            text = json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode()
            digest.update(text)
            size += len(text) if position else 0  # the model name is part of the key, not of the prompt
            prefixes.append((digest.copy().digest(), size))
        with self._lock:
            cached = max((size for key, size in prefixes if key in self._seen), default=0)
            if len(self._seen) > MAX_PREFIXES:
                self._seen.clear()
            self._seen.update(key for key, _ in prefixes)
        tokens = _tokens(cached)
        return 0 if tokens < MIN_CACHED_TOKENS else tokens - tokens % CACHE_STEP
