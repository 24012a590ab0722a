"""A proxy in front of an OpenAI-compatible server that answers as real providers do when things go wrong.

The scripted server (`taugepa.testing.scripted_server`) plays the models; this proxy stands in
front of it and, for tests and `scripts/check_provider_faults.py`, answers the way providers
answer in the cases that taught taugepa something:

- `context_tokens`: a request whose messages and tools exceed this many tokens (4 characters a
  token) gets HTTP 400 with OpenAI's `context_length_exceeded` error body;
- `finish`: `{turn: "length" | "content_filter" | "refusal"}` for the agent model: its answer at
  that turn (the number of assistant messages in the request) is cut in half with
  `finish_reason: "length"`, emptied with `finish_reason: "content_filter"`, or replaced by a
  `refusal` with no content; `user_finish` does the same for the user model;
- `html`: every POST gets `python -m http.server`'s HTML 501 page;
- `die_after`: after this many requests the proxy stops listening (then: connection refused);
- `replace`: `{model: text}`, that model's answers (the first `replace_count`, or all) carry the
  text instead: an empty or fence-only reflection proposal, or a huge one.

`closed_url()` is a base URL where nothing listens (connection refused from the start).
Everything is a pure function of the request, like the scripted server.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHARS_PER_TOKEN = 4
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
HTML_501 = (
    b'<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n'
    b"        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n"
    b"        <p>Error code: 501</p>\n        <p>Message: Unsupported method ('POST').</p>\n"
    b"    </body>\n</html>\n"
)


@dataclass(frozen=True)
class ProviderFaults:
    """What the proxy does to the upstream's answers (see the module docstring)."""

    context_tokens: int | None = None
    finish: Mapping[int, str] = field(default_factory=dict)
    user_finish: Mapping[int, str] = field(default_factory=dict)
    html: bool = False
    die_after: int | None = None
    user_model: str = "scripted-user"
    # {model: text}: that model's answers carry this text instead (the first `replace_count` ones,
    # or all): an empty or fence-only reflection proposal, a huge one
    replace: Mapping[str, str] = field(default_factory=dict)
    replace_count: int | None = None


def context_overflow_body(limit: int, requested: int) -> dict[str, Any]:
    """OpenAI's answer to a request longer than the model's context (HTTP 400)."""
    return {
        "error": {
            "message": (
                f"This model's maximum context length is {limit} tokens. However, your messages "
                f"resulted in {requested} tokens. Please reduce the length of the messages."
            ),
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def request_tokens(body: dict[str, Any]) -> int:
    """The request's size in tokens as this proxy counts them (4 characters a token)."""
    text = json.dumps(body.get("messages") or [], ensure_ascii=False)
    text += json.dumps(body.get("tools") or [], ensure_ascii=False)
    return len(text) // CHARS_PER_TOKEN


def alter_answer(response: dict[str, Any], kind: str) -> dict[str, Any]:
    """The completion `response` as a provider would send it with `kind` as its ending."""
    choice = response["choices"][0]
    message = dict(choice["message"])
    if kind == "length":
        calls = message.get("tool_calls") or []
        if calls:
            cut = []
            for call in calls:
                arguments = call["function"]["arguments"]
                cut.append(
                    {**call, "function": {**call["function"], "arguments": arguments[: len(arguments) // 2]}}
                )
            message["tool_calls"] = cut
        else:
            text = message.get("content") or ""
            message["content"] = text[: len(text) // 2]
    elif kind == "content_filter":
        message = {"role": "assistant", "content": None}
    elif kind == "refusal":
        message = {"role": "assistant", "content": None, "refusal": REFUSAL_TEXT}
    else:
        raise ValueError(f"unknown ending {kind!r}")
    finish = "stop" if kind == "refusal" else kind
    return {**response, "choices": [{**choice, "message": message, "finish_reason": finish}]}


class ProviderProxy:
    """The proxy (threads, 127.0.0.1); use as a context manager or start()/stop()."""

    def __init__(self, upstream: str, faults: ProviderFaults = ProviderFaults()):
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.requests = 0
        self.answered: dict[str, int] = {}  # what the proxy did, counted
        self.largest_request = 0  # in tokens, as `request_tokens` counts them
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.proxy = self
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ProviderProxy:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ProviderProxy:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def count(self, what: str) -> None:
        with self._lock:
            self.answered[what] = self.answered.get(what, 0) + 1

    def take_replacement(self) -> bool:
        """Whether this answer is replaced (`replace_count` of them, or all)."""
        with self._lock:
            self.replaced = getattr(self, "replaced", 0) + 1
            return self.faults.replace_count is None or self.replaced <= self.faults.replace_count

    def next_request(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests


def closed_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: ProviderProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logs
        pass

    def do_POST(self) -> None:
        proxy = self.server.proxy
        faults = proxy.faults
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        number = proxy.next_request()
        if faults.die_after is not None and number > faults.die_after:
            proxy.count("died")
            self.close_connection = True
            threading.Thread(target=proxy.stop, daemon=True).start()
            return
        if faults.html:
            proxy.count("html")
            self._send(501, HTML_501, "text/html;charset=utf-8")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        tokens = request_tokens(body)
        with proxy._lock:
            proxy.largest_request = max(proxy.largest_request, tokens)
        if faults.context_tokens is not None:
            if tokens > faults.context_tokens:
                proxy.count("context_length_exceeded")
                self._json(400, context_overflow_body(faults.context_tokens, tokens))
                return
        status, payload = self._forward(raw)
        if status == 200 and body.get("model") in faults.replace and proxy.take_replacement():
            proxy.count("replaced")
            answer = json.loads(payload)
            answer["choices"][0]["message"] = {"role": "assistant", "content": faults.replace[body["model"]]}
            payload = json.dumps(answer).encode()
        elif status == 200:
            kind = self._ending(body)
            if kind is not None:
                proxy.count(kind)
                payload = json.dumps(alter_answer(json.loads(payload), kind)).encode()
        self._send(status, payload, "application/json")

    def _ending(self, body: dict[str, Any]) -> str | None:
        faults = self.server.proxy.faults
        messages = body.get("messages") or []
        turn = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
        script = faults.user_finish if body.get("model") == faults.user_model else faults.finish
        return script.get(turn)

    def _forward(self, raw: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.server.proxy.upstream + self.path.removeprefix("/v1"),
            data=raw,
            method="POST",
            headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
