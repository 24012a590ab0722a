"""A rate limit for the scripted server, answered as OpenAI answers it: 429, `Retry-After`, headers.

Every real key is limited in requests (and tokens) per minute, and OpenAI documents that a
per-minute limit may be enforced over shorter periods (60,000 RPM as 1,000 requests a
second). `RateLimit(rps)` does that: a bucket of `burst` requests (one second's worth by
default) refilled at `rps` per second; a request finding it empty is refused with what
OpenAI sends:

- HTTP 429 with the body `{"error": {"message": "Rate limit reached for requests ...",
  "type": "requests", "param": null, "code": "rate_limit_exceeded"}}`;
- `retry-after` (whole seconds, rounded up) and `retry-after-ms` (the time until the
  bucket holds a request again);
- `x-ratelimit-limit-requests` (per minute), `x-ratelimit-remaining-requests` (in the
  bucket now) and `x-ratelimit-reset-requests` (until the bucket is full, as `"1s"`,
  `"200ms"`), the same three for tokens when `tpm` is set; answered requests carry them too.

A refused request takes nothing from the bucket. Tokens are counted as the scripted server
counts them (a quarter of the request's bytes). Thread-safe: one per server.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """Requests a second (and optionally tokens a minute) a server allows; see the module docstring."""

    rps: float
    burst: float | None = None  # requests the bucket holds (default: one second's worth, at least 1)
    tpm: float | None = None  # prompt tokens a minute, enforced per second likewise

    def __post_init__(self) -> None:
        if not self.rps > 0:
            raise ValueError(f"a rate limit needs a positive number of requests a second, got {self.rps}")


def duration_text(seconds: float) -> str:
    """A duration as OpenAI writes it in x-ratelimit-reset-*: "1s", "6m0s", "250ms"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"


class _Bucket:
    def __init__(self, per_second: float, capacity: float):
        self.rate = per_second
        self.capacity = capacity
        self.level = capacity
        self.at = time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, amount: float) -> float:
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)

    def to_full(self) -> float:
        return (self.capacity - self.level) / self.rate


class RateLimiter:
    """A `RateLimit` in a running server: admits requests or says how long to wait."""

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._requests = _Bucket(limit.rps, limit.burst or max(1.0, limit.rps))
        self._tokens = _Bucket(limit.tpm / 60, limit.tpm / 60) if limit.tpm else None
        self._lock = threading.Lock()
        self.refused = 0
        self.admitted = 0
        self.admitted_at: list[float] = []  # time.time() of each admitted request

    def admit(self, tokens: int) -> tuple[bool, dict[str, str]]:
        """(admitted, headers to send): takes a request and its tokens from the buckets if they hold them."""
        with self._lock:
            now = time.monotonic()
            self._requests.refill(now)
            wait = self._requests.wait_for(1)
            if self._tokens is not None:
                self._tokens.refill(now)
                wait = max(wait, self._tokens.wait_for(tokens))
            admitted = wait <= 0
            if admitted:
                self._requests.level -= 1
                if self._tokens is not None:
                    self._tokens.level -= min(tokens, self._tokens.capacity)
                self.admitted += 1
                self.admitted_at.append(time.time())
            else:
                self.refused += 1
            headers = self._headers()
        if not admitted:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        return admitted, headers

    def refusal_body(self) -> dict[str, object]:
        """The error document OpenAI sends with a 429 for a request limit."""
        rpm = self.limit.rps * 60
        message = (
            f"Rate limit reached for requests per min (RPM): Limit {rpm:g}, Used {rpm:g}, Requested 1. "
            "Please try again shortly. Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        error = {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"}
        return {"error": error}

    def _headers(self) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit-requests": f"{self.limit.rps * 60:g}",
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self._requests.level))),
            "x-ratelimit-reset-requests": duration_text(self._requests.to_full()),
        }
        if self._tokens is not None and self.limit.tpm:
            headers["x-ratelimit-limit-tokens"] = f"{self.limit.tpm:g}"
            headers["x-ratelimit-remaining-tokens"] = str(max(0, math.floor(self._tokens.level)))
            headers["x-ratelimit-reset-tokens"] = duration_text(self._tokens.to_full())
        return headers

    def stats(self) -> dict[str, object]:
        """Admitted and refused requests, and the most admitted in any window of 1 and of 10 seconds."""
        with self._lock:
            times = list(self.admitted_at)
        return {
            "admitted": self.admitted,
            "refused": self.refused,
            "max_per_second": max_in_window(times, 1.0),
            "max_per_10_seconds": max_in_window(times, 10.0),
        }


def max_in_window(times: list[float], window: float) -> int:
    """The most of `times` (sorted or not) that fall in any half-open window of this length."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
