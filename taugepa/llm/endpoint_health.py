"""Is the endpoint there at all, and is it failing the same way for everyone?

Two checks that keep a wrong or dead `--base-url` from costing a whole run:

- `check_reachable`: before the first episode, one TCP connection to each side's endpoint.
  Refused, an unknown host or no answer to the connection within 10 s is one configuration
  line (an error, not a skipped case); nothing is sent, so no key and no request leaves.
- `FailureStreak`: the episode pool feeds it each episode's verdict. When the same
  infrastructure failure ends episodes in a row with no success between (HTML or non-JSON
  answers, a 5xx from every request, connections refused), the endpoint is not flaking but
  wrong or gone: the run stops starting episodes after `STREAK` of them, with one line saying
  what the endpoint answered and what to check. A success resets it, so transient faults
  mixed with successes are retried as before.
"""

from __future__ import annotations

import re
import socket
import threading
from urllib.parse import urlsplit

from taugepa.llm.config import LLMConfig, LLMConfigError, public_url

CONNECT_TIMEOUT_S = 10.0
STREAK = 3  # episodes in a row ended by the same failure
_LAST = re.compile(r"; last: (.*)$", re.DOTALL)
_VOLATILE = re.compile(r"\b\d+(\.\d+)?\s*s\b|0x[0-9a-f]+", re.IGNORECASE)  # durations, addresses


def check_reachable(config: LLMConfig) -> None:
    """An LLMConfigError if a side's endpoint cannot even be connected to."""
    seen = set()
    for side in ("agent", "user"):
        url = config.endpoint(side).base_url
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT_S):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                reason = f"no connection within {CONNECT_TIMEOUT_S:g} s"
            flag = "--base-url" if side == "agent" else "--user-base-url"
            raise LLMConfigError(
                f"cannot reach the LLM endpoint {public_url(url)} ({reason}): check {flag} "
                "and that the server is running"
            ) from None


def failure_signature(feedback: str) -> str:
    """What an infrastructure error's feedback says the endpoint answered, without what varies."""
    match = _LAST.search(feedback)
    return _VOLATILE.sub("#", match.group(1) if match else feedback).strip()


class FailureStreak:
    """Counts episodes in a row ended by the same infrastructure failure (thread-safe)."""

    def __init__(self, limit: int = STREAK):
        self.limit = limit
        self._signature: str | None = None
        self._count = 0
        self._last = ""
        self._lock = threading.Lock()

    def record(self, failed: bool, feedback: str = "") -> str | None:
        """Note one episode's end; the reason to stop the run when the streak is reached."""
        with self._lock:
            if not failed:
                self._signature, self._count = None, 0
                return None
            signature = failure_signature(feedback)
            self._count = self._count + 1 if signature == self._signature else 1
            self._signature, self._last = signature, feedback
            if self._count < self.limit:
                return None
            return (
                f"the LLM endpoint failed {self._count} episodes in a row the same way, with no success "
                f"between: {_clip(self._signature)}; check --base-url (is it an OpenAI-compatible "
                "endpoint, usually ending in /v1?) and that the server is running"
            )


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_sample(content_type: str | None, text: str, size: int = 60) -> str:
    """What an endpoint answered, for a line: its content type and first characters."""
    head = " ".join(str(text or "")[:size].split())
    kind = f"{content_type.split(';')[0].strip()} " if content_type else ""
    return f"{kind}{head!r}" if head else f"{kind}(empty body)".strip()
