"""Hostile behaviour for the scripted server: a slow or endless wire, and answers no model should send.

`Faults` (in `scripted_models`) makes transient failures a client must retry through; a
`Hostile` makes the endpoint and the model misbehave on purpose, to prove that nothing they
do can hang a run, crash an episode or spoil a scores file:

- on the wire (`wire`, for the first `wire_attempts` attempts of each request):
  `trickle_headers` sends the status line and headers one byte every `interval` seconds and
  never finishes them; `trickle_body` sends a complete answer's body one byte at a time;
  `endless_chunked` sends a chunked body of spaces that never ends; `flood` does the same as
  fast as it can, so that the size limit, not the deadline, is what stops it;
- `echo_credentials`: every request is refused (HTTP 400) with an error message echoing its
  Authorization header as is, in base64 (as `Basic` auth of `user:KEY` would carry it) and
  percent-encoded, as careless servers and proxies do;
- in what the models say (`agent_answers`, `user_answers`): the k-th answer of a
  conversation (k = the model's answers so far, `model_turn`) is replaced by the given message, sent as a
  normal completion (a dict: any content, tool calls with garbage, huge or deeply nested
  arguments, lone surrogates, unknown tools, no content at all), or by the given bytes as
  the whole response body; None keeps the scripted answer.

Everything is a pure function of the request and its attempt number, like the rest of the
scripted server.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

WIRE_KINDS = ("trickle_headers", "trickle_body", "endless_chunked", "flood")
MAX_HOSTILE_SECONDS = 600.0  # a hostile answer gives up on its own after this long
FLOOD_CHUNK = b" " * 65536


@dataclass(frozen=True)
class Hostile:
    """What the scripted server does beyond its scripted models (see the module docstring)."""

    wire: str | None = None
    wire_attempts: int = 1_000_000
    interval: float = 0.5
    agent_answers: tuple[Any, ...] = ()
    user_answers: tuple[Any, ...] = ()
    user_model: str = "scripted-user"
    echo_credentials: bool = False

    def __post_init__(self) -> None:
        if self.wire is not None and self.wire not in WIRE_KINDS:
            raise ValueError(f"unknown wire behaviour {self.wire!r}: choose from {WIRE_KINDS}")


@dataclass
class HostileState:
    """A `Hostile` in a running server: counts the attempts of each request."""

    hostile: Hostile
    attempts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wire_fault(self, digest: str) -> str | None:
        """The wire behaviour for this attempt of the request, if any."""
        if self.hostile.wire is None:
            return None
        with self.lock:
            attempt = self.attempts[digest]
            self.attempts[digest] += 1
        return self.hostile.wire if attempt < self.hostile.wire_attempts else None

    def answer(self, body: dict[str, Any]) -> dict[str, Any] | bytes | None:
        """The hostile answer to this request (a message or a whole body), or None to play as usual."""
        messages = body.get("messages") or []
        turn = model_turn(messages)
        script = self.hostile.user_answers if body.get("model") == self.hostile.user_model else None
        if script is None:
            script = self.hostile.agent_answers
        return script[turn] if turn < len(script) else None


def model_turn(messages: list[Any]) -> int:
    """How many answers the model has given so far: its assistant messages after the first user one.

    Under tau2's protocol the agent's history opens with tau2's greeting, an assistant message
    no model wrote; it comes before any user message, so it is not counted.
    """
    seen_user, turn = False, 0
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        seen_user = seen_user or role == "user"
        turn += role == "assistant" and seen_user
    return turn


def send_wire_fault(handler: Any, kind: str, interval: float, body: bytes) -> None:
    """Misbehave on the wire with `kind` until the client gives up (or MAX_HOSTILE_SECONDS pass)."""
    handler.close_connection = True
    started = time.monotonic()
    try:
        if kind == "trickle_headers":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: "
            _trickle(handler, head + b"x" * 1_000_000, interval, started)
        elif kind == "trickle_body":
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            handler.wfile.write(head)
            _trickle(handler, body, interval, started)
        else:
            handler.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = FLOOD_CHUNK if kind == "flood" else b" "
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            while time.monotonic() - started < MAX_HOSTILE_SECONDS:
                handler.wfile.write(frame)
                if kind != "flood":
                    time.sleep(interval)
    except OSError:  # the client hung up: that is the point
        pass


def _trickle(handler: Any, data: bytes, interval: float, started: float) -> None:
    for position in range(len(data)):
        if time.monotonic() - started > MAX_HOSTILE_SECONDS:
            return
        handler.wfile.write(data[position : position + 1])
        time.sleep(interval)


def echoed_credentials(authorization: str) -> str:
    """An error message that leaks the request's credentials in several encodings."""
    token = authorization.removeprefix("Bearer ").strip()
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    return f"bad request from {authorization!r}; Basic {basic}; key={quote(token, safe='')}"


def completion_body(message: dict[str, Any], model: str = "scripted-agent") -> bytes:
    """A chat completion carrying `message` (for `trickle_body`)."""
    return json.dumps(
        {
            "id": "chatcmpl-hostile",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()
