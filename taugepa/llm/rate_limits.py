"""Rate limits per endpoint: requests are paced to what the endpoint allows, never a stampede.

Every real key is limited in requests and tokens per minute, and the agent, the user
simulator and the reflection model may be different endpoints with different limits. Each
endpoint (URL and key) gets one `EndpointGate` per process, which every request to it
passes through:

- Until the endpoint says no, requests go as they come (`--concurrency` episodes in flight
  is the ceiling). With `--rpm`/`--tpm` they are paced from the start, `MARGIN` under the
  cap: one request every 60/rpm seconds, and tokens (a quarter of the request's bytes, plus
  `COMPLETION_ALLOWANCE`) at tpm/60 a second.
- The first rate-limit answer (HTTP 429) starts pacing: at the
  rate the server states in `x-ratelimit-limit-requests` (per minute, as OpenAI sends it),
  else at what it served in the last few seconds (or one request per pause it asks for,
  whichever is more); a little under it (`MARGIN`), so that a
  request arriving early does not find the server's bucket empty. The same for tokens with
  `x-ratelimit-limit-tokens`. A success with `x-ratelimit-remaining-requests: 0` starts pacing
  before any 429.
- Every request waits in one queue, in order, and leaves it no sooner than its slot: after
  a 429 the whole endpoint pauses for its `retry-after-ms` / `Retry-After` (else the
  `x-ratelimit-reset-*` time, else a backoff), plus jitter, and the waiting requests then go
  one slot apart. The refused request goes first.
- The pace backs off by `DECREASE` on a further 429 or a 503 (a server in trouble, which
  the client otherwise retries as before), at most once a second, and grows back by
  `INCREASE` of the stated rate per answer while the endpoint has room
  (`x-ratelimit-remaining-*` not 0; by `INCREASE_UNSTATED` of itself without a stated rate,
  until it holds nothing back and pacing ends), and the
  requests in flight are held to what the pace needs (rate x answer time, doubled, plus
  `SPARE_IN_FLIGHT`; a straggler no longer counts after `STRAGGLER_S`): the
  line "rate limited by the agent endpoint ...: running 3 in flight instead of 16" says so
  once per endpoint.
- A rate-limit answer is never an episode's error: the request waits (and does not use up
  `--max-retries`) for `MAX_RATE_LIMIT_WAIT_S` in all, or until a server asks for more than
  the client's longest pause; only then does it count as a failed attempt.

With pytest-xdist each worker is a process with its own gates: `--rpm`/`--tpm` are split
evenly (`set_workers`), so the workers together never pass them, and a stated limit is each
worker's starting point (its share), from which it may grow up to the whole limit while the
others leave room.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from taugepa.llm.wire import parse_retry_after

log = logging.getLogger("taugepa")

MAX_RATE_LIMIT_WAIT_S = 900.0  # a request waits out rate limits this long in all
MIN_RATE = 0.02  # requests a second: the slowest pace, about one request a minute
MARGIN = 0.97  # pace this share of a stated limit
DECREASE = 0.8  # the pace after a further rate-limit answer
INCREASE = 0.01  # of the stated rate, per success
INCREASE_UNSTATED = 0.03  # of the pace itself, per success, when the endpoint states no limit
DECREASE_INTERVAL_S = 1.0  # the pace slows down at most this often
FIRST_PAUSE_S = 1.0  # after a 429 that says nothing about when to come back (then doubling)
COMPLETION_ALLOWANCE = 256  # tokens counted for the answer of a request, besides its prompt
RECENT_S = 3.0  # seconds of answers that measure what an endpoint served lately
SPARE_IN_FLIGHT = 2  # requests in flight beyond what the pace needs
STRAGGLER_S = 1.0  # a request in flight longer than this (and 4 answer times) no longer counts

_workers = 1
_concurrency: int | None = None
_gates: dict[tuple[str, str], EndpointGate] = {}
_gates_lock = threading.Lock()


def set_workers(count: int) -> None:
    """This process is one of `count` sharing the run's limits (pytest-xdist workers)."""
    global _workers
    _workers = max(1, count)


def set_concurrency(count: int) -> None:
    """Episodes in flight in this process: the most requests an endpoint can have in flight."""
    global _concurrency
    _concurrency = max(1, count)


def worker_share(value: float | None) -> float | None:
    """This process's part of a run-wide cap (`--rpm`, `--tpm`)."""
    return None if value is None else value / _workers


@dataclass
class RateWaits:
    """What rate limits cost one request: rate-limit answers, and seconds spent waiting."""

    rate_limited: int = 0  # 429s answered to this request (and waited out)
    wait_s: float = 0.0  # in the endpoint's queue (pacing, pauses after 429s)
    in_flight_limit: int | None = None  # the endpoint's limit when sent, while it was rate limited


def duration_s(text: str | None) -> float | None:
    """Seconds in an x-ratelimit-reset-* value: "1s", "6m0s", "250ms", "1h2m3.5s" or a number."""
    if not text:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _number(headers: Mapping[str, str] | None, name: str) -> float | None:
    value = headers.get(name) if headers is not None else None
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


class EndpointGate:
    """The queue and the pace of one endpoint's requests in this process (see the module docstring)."""

    def __init__(self, url: str, rpm: float | None = None, tpm: float | None = None):
        self.url = url
        self.sides: set[str] = set()
        # requests (tokens) a second, never more: this worker's share, a margin under it so that
        # network jitter never makes the endpoint see more than the cap
        self.cap = worker_share(rpm / 60 * MARGIN) if rpm else None
        self.token_cap = worker_share(tpm / 60 * MARGIN) if tpm else None
        self.rate: float | None = self.cap  # the pace (None: unpaced)
        self.token_rate: float | None = self.token_cap
        self.stated: float | None = None  # requests a second the endpoint says it allows
        self.stated_tokens: float | None = None
        self.next_at = 0.0  # the earliest time (time.monotonic) the next request may go
        self.next_token_at = 0.0
        self.paused_until = 0.0
        self.last_decrease = 0.0
        self.backoff = FIRST_PAUSE_S
        self.in_flight = 0
        self.peak = 0
        self.latency: float | None = None  # seconds an answer takes (moving average)
        self.recent: deque[float] = deque()  # times of recent answers
        self.rate_limited = 0
        self.waited_s = 0.0
        self.announced = False
        self._lock = threading.Lock()
        self._queue: deque[threading.Condition] = deque()
        self._started: dict[int, float] = {}  # thread -> when its request was sent

    # --- the queue ---------------------------------------------------------------------------

    def in_flight_limit(self) -> int | None:
        """Requests allowed in flight while paced (None: unpaced, the episodes are the limit)."""
        if self.rate is None:
            return None
        latency = self.latency if self.latency is not None else 1.0
        # what the pace needs (rate x answer time), doubled, and two more: a slow or hung request
        # never holds up the others
        limit = math.ceil(self.rate * latency * 2) + SPARE_IN_FLIGHT
        return min(limit, _concurrency) if _concurrency else limit

    def acquire(self, tokens: int, first: bool = False) -> float:
        """Wait for this request's turn and slot; the seconds waited. `first`: a refused request's retry."""
        started = time.monotonic()
        waited = False
        with self._lock:
            turn = threading.Condition(self._lock)
            if first:
                self._queue.appendleft(turn)
            else:
                self._queue.append(turn)
            try:
                while True:
                    now = time.monotonic()
                    timeout = 1.0  # not first in the queue: woken when it is
                    if self._queue[0] is turn:
                        slot = self._slot()
                        limit = self.in_flight_limit()
                        if slot <= now and (limit is None or self._busy(now) < limit):
                            self._queue.popleft()
                            self._take(now, tokens)
                            break
                        # its slot, or a request answered (woken), or a straggler no longer counting
                        timeout = min(slot - now, 1.0) if slot > now else 0.25
                    turn.wait(timeout)
                    waited = True
            except BaseException:
                if turn in self._queue:
                    self._queue.remove(turn)
                raise
            finally:
                if self._queue:
                    self._queue[0].notify()
        # 0 when it went at once: a run no endpoint held back records no waiting at all
        return time.monotonic() - started if waited else 0.0

    def _slot(self) -> float:
        slot = self.paused_until
        if self.rate is not None:
            slot = max(slot, self.next_at)
        if self.token_rate is not None:
            slot = max(slot, self.next_token_at)
        return slot

    def _take(self, now: float, tokens: int) -> None:
        if self.rate is not None:
            self.next_at = max(self.next_at, now) + 1 / self.rate
        if self.token_rate is not None:
            cost = min(tokens + COMPLETION_ALLOWANCE, self.token_rate * 60)  # one request can always go
            self.next_token_at = max(self.next_token_at, now) + cost / self.token_rate
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self._started[threading.get_ident()] = now

    def _busy(self, now: float) -> int:
        """Requests in flight, but for stragglers (a hung request must not hold up the others)."""
        straggler = max(STRAGGLER_S, 4 * (self.latency or 0.0))
        return sum(1 for started in self._started.values() if now - started < straggler)

    def _release(self) -> None:
        self.in_flight -= 1
        self._started.pop(threading.get_ident(), None)
        if self._queue:
            self._queue[0].notify()

    # --- what the endpoint says --------------------------------------------------------------

    def answered(self, headers: Mapping[str, str] | None, seconds: float) -> None:
        """A request was answered (not refused) after `seconds`, with these headers."""
        with self._lock:
            self._release()
            now = time.monotonic()
            self.latency = seconds if self.latency is None else 0.8 * self.latency + 0.2 * seconds
            self.recent.append(now)
            while self.recent and self.recent[0] < now - RECENT_S:
                self.recent.popleft()
            self.backoff = FIRST_PAUSE_S
            self._read_limits(headers)
            if self.rate is None and _number(headers, "x-ratelimit-remaining-requests") == 0 and self.stated:
                self._start_pacing(now, None)
            elif self.rate is not None and _number(headers, "x-ratelimit-remaining-requests") != 0:
                # grow while the endpoint has room (none left: hold the pace, others use the rest)
                self.rate = self._grown(self.rate, self.stated, self.cap)
                if self.token_rate is not None and _number(headers, "x-ratelimit-remaining-tokens") != 0:
                    self.token_rate = self._grown(self.token_rate, self.stated_tokens, self.token_cap)

    def failed(self, overloaded: bool = False) -> None:
        """A request ended in some other way (an error the client retries or raises); `overloaded`
        (a 503): an endpoint already paced slows down."""
        with self._lock:
            self._release()
            if overloaded and self.rate is not None:
                self._slow_down(time.monotonic(), None)

    def refused(self, headers: Mapping[str, str] | None, retry_after: float | None) -> float:
        """A rate-limit answer: pace (or slow down) and pause the endpoint; the pause in seconds."""
        with self._lock:
            self._release()
            now = time.monotonic()
            self.rate_limited += 1
            self._read_limits(headers)
            pause = retry_after
            if pause is None:
                pause = _reset_pause(headers)
            if pause is None:
                pause, self.backoff = self.backoff, min(self.backoff * 2, 60.0)
            if self.rate is None:
                self._start_pacing(now, pause)
            else:
                self._slow_down(now, headers)
            if _number(headers, "x-ratelimit-remaining-tokens") == 0 and self.token_rate is None:
                if self.stated_tokens:
                    self.token_rate = self.stated_tokens * MARGIN / _workers
            spacing = 1 / self.rate if self.rate else 0.1
            until = now + pause + random.uniform(0, min(spacing, 1.0))  # jitter: processes do not collide
            self.paused_until = max(self.paused_until, until)
            if self._queue:
                self._queue[0].notify()
            return pause

    def _slow_down(self, now: float, headers: Mapping[str, str] | None) -> None:
        """A further refusal (or a 503): a slower pace, at most once per `DECREASE_INTERVAL_S`, so
        that the echoes of one burst or a run of server errors do not bring it to a crawl."""
        if self.rate is None or now < self.paused_until or now - self.last_decrease < DECREASE_INTERVAL_S:
            return
        self.last_decrease = now
        self.rate = max(MIN_RATE, self.rate * DECREASE)
        if self.token_rate is not None and _number(headers, "x-ratelimit-remaining-tokens") == 0:
            self.token_rate = max(1.0, self.token_rate * DECREASE)

    def _read_limits(self, headers: Mapping[str, str] | None) -> None:
        rpm = _number(headers, "x-ratelimit-limit-requests")
        if rpm:
            self.stated = rpm / 60
        tpm = _number(headers, "x-ratelimit-limit-tokens")
        if tpm:
            self.stated_tokens = tpm / 60

    def _start_pacing(self, now: float, pause: float | None) -> None:
        if self.stated:
            rate = self.stated * MARGIN / _workers
        else:  # what it served lately, or one request per pause it asked for (then slower if need be)
            served = sum(1 for moment in self.recent if moment >= now - RECENT_S)
            rate = max(MIN_RATE, served / RECENT_S, 1 / max(pause or FIRST_PAUSE_S, 0.05))
        self.rate = min(rate, self.cap) if self.cap else rate
        self.next_at = now
        self.last_decrease = now
        self._announce()

    def _grown(self, rate: float, stated: float | None, cap: float | None) -> float | None:
        grown = rate + (INCREASE * stated if stated else INCREASE_UNSTATED * rate)
        tops = [top for top in (stated * MARGIN if stated else None, cap) if top is not None]
        if tops:
            return min(grown, *tops)
        latency = self.latency or 1.0
        if grown * latency > (_concurrency or self.peak or 1):  # the pace no longer holds anything back
            return None
        return grown

    def _announce(self) -> None:
        if self.announced:
            return
        self.announced = True
        limit = self.in_flight_limit()
        ceiling = _concurrency or self.peak
        log.warning("taugepa: %s", limiting_line(" and ".join(sorted(self.sides)), self.url, limit, ceiling))

    # --- one request ---------------------------------------------------------------------------

    def send(
        self,
        side: str,
        post: Callable[[], Any],
        tokens: int,
        limit_answer: Callable[[BaseException], tuple[Mapping[str, str] | None, float | None] | None],
        longest_pause: float,
        waits: RateWaits,
    ) -> Any:
        """`post()` through the queue; a rate-limit answer (as `limit_answer` recognises it: its headers
        and Retry-After) is waited out and sent again. Other errors are raised as they are. What
        the waits cost is added to `waits`."""
        self.sides.add(side)
        waited_for_limits = 0.0
        first = False
        while True:
            waited = self.acquire(tokens, first)
            waits.wait_s += waited
            with self._lock:
                self.waited_s += waited
            if self.announced:
                waits.in_flight_limit = self.in_flight_limit() or waits.in_flight_limit
            started = time.monotonic()
            try:
                response = post()
            except BaseException as exc:
                answer = limit_answer(exc)
                if answer is None:
                    self.failed(getattr(exc, "status_code", None) == 503)
                    raise
                headers, retry_after = answer
                pause = self.refused(headers, retry_after)
                waits.rate_limited += 1
                waited_for_limits += pause
                if pause > longest_pause or waited_for_limits > MAX_RATE_LIMIT_WAIT_S:
                    raise
                first = True
                continue
            self.answered(getattr(response, "headers", None), time.monotonic() - started)
            return response


def rate_limit_answer(exc: BaseException) -> tuple[Mapping[str, str], float | None] | None:
    """(headers, Retry-After) if `exc` is the SDK's error for a rate-limit answer (HTTP 429), else None.

    A 503 is a server in trouble, not a limit: the client retries it within `--max-retries`
    (honouring its Retry-After), and an endpoint already paced slows down.
    """
    if getattr(exc, "status_code", None) != 429 or getattr(exc, "response", None) is None:
        return None
    headers = exc.response.headers  # type: ignore[attr-defined]
    return headers, parse_retry_after(headers)


def limiting_line(sides: str, url: str, limit: int | None, ceiling: int | None) -> str:
    """The line that says an endpoint started limiting the run."""
    line = f"rate limited by the {sides or 'LLM'} endpoint {url}"
    if limit is not None and ceiling:
        line += f": running {limit} in flight instead of {ceiling}"
    return line + " (requests wait their turn; 429 answers are waited out, not errors)"


def _reset_pause(headers: Mapping[str, str] | None) -> float | None:
    """When the headers say the endpoint has room again (the limit that is used up)."""
    if headers is None:
        return None
    pauses = [
        duration_s(headers.get(f"x-ratelimit-reset-{kind}"))
        for kind in ("requests", "tokens")
        if _number(headers, f"x-ratelimit-remaining-{kind}") == 0
    ]
    known = [pause for pause in pauses if pause is not None]
    return max(known) if known else None


def gate_for(url: str, key_digest: str, rpm: float | None = None, tpm: float | None = None) -> EndpointGate:
    """The process-wide gate of an endpoint and key (its limits are the key's, whoever sends)."""
    with _gates_lock:
        gate = _gates.get((url, key_digest))
        if gate is None:
            gate = _gates[(url, key_digest)] = EndpointGate(url, rpm, tpm)
    return gate
