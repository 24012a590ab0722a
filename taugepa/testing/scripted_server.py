"""A real OpenAI-compatible HTTP server for the scripted models, with reproducible faults.

For tests and benchmarks of the LLM path without any LLM: the client, the retries, the
cache and the episode loop all run for real over HTTP on 127.0.0.1. What each model answers
is `taugepa.testing.scripted_models`; this module is the wire: any unknown model gets a 404,
a wrong API key a 401.

Transient faults are a pure function of the request body and its attempt number, so runs
are reproducible: 429 with Retry-After, 500, 503 with Retry-After, a hang that lasts until
the client's timeout makes it give up (so the fault never depends on how fast the machine
is), a dropped connection, a 200 whose body is not a completion; at most
`max_in_a_row` times for one request so that retries succeed. A fixed latency per answer
simulates a remote model; `gather` holds the first answers until that many requests are in
flight at once, so a test can show concurrency without racing the clock. `stats()` (or
`GET /_stats`) counts requests, faults and the most
requests ever in flight at once, and records when the first request arrived and when the
last answer left (for measuring a whole command's start-up and finish).

Run it alone: `python -m taugepa.testing.scripted_server --tasks FILE --latency 0.3`
(`--optimizer-models` also serves the models of `taugepa.testing.scripted_optimizer` and
`scripted_fewshot`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Action, Task
from taugepa.testing.hostile import (
    Hostile,
    HostileState,
    completion_body,
    echoed_credentials,
    send_wire_fault,
)
from taugepa.testing.prompt_cache import PromptCache
from taugepa.testing.rate_limited import RateLimit, RateLimiter
from taugepa.testing.scripted_fewshot import FEWSHOT_MODELS
from taugepa.testing.scripted_models import Conduct, ExtraModel, Faults, ScriptedModels, request_unit
from taugepa.testing.scripted_optimizer import EXTRA_MODELS


@dataclass
class ServerStats:
    requests: int = 0  # chat completion requests received, errors and faults included
    completions: int = 0  # answered with 200
    by_model: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    misbehaviour: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    unauthorized: int = 0
    first_request_at: float | None = None  # time.time() when the first request arrived
    last_answer_at: float | None = None  # time.time() when the last answer had been sent
    # time.time() when the last connection that asked for a completion closed: the client let go
    # (for a command, its process exited), as the server sees it
    last_disconnect_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("by_model", "faults", "misbehaviour"):
            data[name] = dict(getattr(self, name))
        return data


class ScriptedServer:
    """The HTTP server (threads, 127.0.0.1); use as a context manager or start()/stop()."""

    def __init__(
        self,
        tasks: Iterable[Task],
        *,
        latency: float = 0.0,
        faults: Faults = Faults(),
        api_key: str | None = None,
        port: int = 0,
        conduct: Conduct = Conduct(),
        plays: Mapping[str, Sequence[Action]] | None = None,
        extra_models: dict[str, ExtraModel] | None = None,
        hostile: Hostile | None = None,
        gather: int = 0,
        gather_timeout: float = 60.0,
        rate_limit: RateLimit | None = None,
        prompt_cache: bool = False,
        reasoning_tokens: int = 0,
    ):
        self.models = ScriptedModels(tasks, faults, conduct, plays, extra_models)
        self.hostile = HostileState(hostile) if hostile is not None else None  # see taugepa.testing.hostile
        self.latency = latency
        # An OpenAI-like rate limit (429 + Retry-After beyond it) and prompt cache (cached_tokens);
        # `reasoning_tokens` are reported in each answer's completion_tokens_details.
        self.rate_limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        self.prompt_cache = PromptCache() if prompt_cache else None
        self.reasoning_tokens = reasoning_tokens
        # Answer nothing until `gather` requests are in flight at once (then never wait again;
        # at most `gather_timeout`): a test can then show concurrency without racing the clock.
        self.gather_timeout = gather_timeout
        self._gathered = threading.Event()
        self.faults = faults
        self.api_key = api_key
        self._stats = ServerStats()
        self._attempts: Counter = Counter()  # request digest -> attempts so far
        self._in_a_row: Counter = Counter()  # request digest -> faults in a row
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.gather(gather)
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.scripted = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="scripted-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop the open (keep-alive) connections: the endpoint is gone."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            stats = self._stats.to_dict()
        if self.rate_limiter is not None:
            stats["rate_limit"] = self.rate_limiter.stats()
        return stats

    def gather(self, count: int) -> None:
        """Hold the next answers until `count` requests are in flight at once (0: do not hold)."""
        with self._lock:
            self.gather_count = count
            if count <= 1 or self._stats.in_flight >= count:
                self._gathered.set()
            else:
                self._gathered.clear()

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = ServerStats()

    # --- called by the handler -------------------------------------------------------------

    def begin(self, model: str) -> None:
        with self._lock:
            stats = self._stats
            stats.requests += 1
            stats.by_model[model] += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            if stats.first_request_at is None:
                stats.first_request_at = time.time()
            if stats.in_flight >= self.gather_count:
                self._gathered.set()

    def end(self) -> None:
        with self._lock:
            self._stats.in_flight -= 1
            self._stats.last_answer_at = time.time()

    def count(self, counter: str, name: str) -> None:
        with self._lock:
            getattr(self._stats, counter)[name] += 1

    def authorized(self, header: str | None) -> bool:
        if self.api_key is None or header == f"Bearer {self.api_key}":
            return True
        with self._lock:
            self._stats.unauthorized += 1
        return False

    def transient_fault(self, digest: str) -> str | None:
        """The fault to answer this attempt with, if any (deterministic per request and attempt)."""
        faults = self.faults
        with self._lock:
            attempt = self._attempts[digest]
            self._attempts[digest] += 1
            if faults.rate <= 0 or self._in_a_row[digest] >= faults.max_in_a_row:
                self._in_a_row[digest] = 0
                return None
            draw = request_unit(faults.seed, digest, attempt)
            if draw >= faults.rate:
                self._in_a_row[digest] = 0
                return None
            self._in_a_row[digest] += 1
        kind = faults.kinds[int(request_unit(faults.seed, digest, attempt, "kind") * len(faults.kinds))]
        self.count("faults", kind)
        return kind


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    scripted: ScriptedServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Answer at once: without this, Nagle's algorithm and delayed ACKs add ~40 ms per answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.scripted._lock:
            self.server.scripted._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.scripted._lock:
            self.server.scripted._connections.discard(self.connection)
            if getattr(self, "served_completion", False):
                self.server.scripted._stats.last_disconnect_at = time.time()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logs
        pass

    def do_GET(self) -> None:
        scripted = self.server.scripted
        if self.path.rstrip("/").endswith("/_stats"):
            self._json(200, scripted.stats())
        elif self.path.rstrip("/").endswith("/models"):
            models = [{"id": name, "object": "model"} for name in scripted.models.names]
            self._json(200, {"object": "list", "data": models})
        else:
            self._json(404, _error("not found", "not_found"))

    def do_POST(self) -> None:
        scripted = self.server.scripted
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, _error(f"no route {self.path}", "not_found"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        model = str(body.get("model"))
        scripted.begin(model)
        self.served_completion = True
        try:
            if scripted.hostile and scripted.hostile.hostile.echo_credentials:
                message = echoed_credentials(self.headers.get("Authorization") or "")
                self._json(400, _error(message, "invalid_request"))
            elif not scripted.authorized(self.headers.get("Authorization")):
                self._json(401, _error("Incorrect API key provided.", "invalid_api_key"))
            elif not isinstance(body.get("messages"), list):
                self._json(400, _error("'messages' is a required property", "invalid_request"))
            elif model not in scripted.models.names:
                self._json(404, _error(f"The model `{model}` does not exist.", "model_not_found"))
            else:
                self._complete(scripted, body, raw, model)
        finally:
            scripted.end()

    def _complete(self, scripted: ScriptedServer, body: dict[str, Any], raw: bytes, model: str) -> None:
        limit_headers: dict[str, str] = {}
        if scripted.rate_limiter is not None:
            admitted, limit_headers = scripted.rate_limiter.admit(len(raw) // 4)
            if not admitted:
                scripted.count("faults", "rate_limited")
                self._json(429, scripted.rate_limiter.refusal_body(), headers=limit_headers)
                return
        digest = hashlib.sha256(raw).hexdigest()
        fault = scripted.transient_fault(digest)
        if fault == "429":
            self._json(429, _error("Rate limit reached.", "rate_limit_exceeded"), retry_after=True)
            return
        if fault in ("500", "503"):
            error = _error("The server had an error.", "server_error")
            self._json(int(fault), error, retry_after=fault == "503")
            return
        if fault == "timeout":
            self._hold_until_the_client_gives_up(scripted.faults.hang)
            self.close_connection = True
            return
        if fault == "disconnect":
            self.close_connection = True
            return
        if fault == "garbage":
            self._send(200, b"<html>502 Bad Gateway</html>")
            return
        scripted._gathered.wait(scripted.gather_timeout)
        hostile = scripted.hostile
        wire = hostile.wire_fault(digest) if hostile else None
        message = hostile.answer(body) if hostile else None
        if wire is not None:
            scripted.count("faults", wire)
            ordinary = message if isinstance(message, dict) else scripted.models.answer(body, digest)
            assert hostile is not None  # a wire fault comes from the hostile mode
            send_wire_fault(self, wire, hostile.hostile.interval, completion_body(ordinary, model))
            return
        if isinstance(message, bytes):
            scripted.count("misbehaviour", "hostile_body")
            self._send(200, message)
            return
        if message is not None:
            scripted.count("misbehaviour", "hostile_answer")
        else:
            message = scripted.models.answer(body, digest)
            misbehaviour = scripted.models.misbehaviour_of(message)
            if misbehaviour:
                scripted.count("misbehaviour", misbehaviour)
        if scripted.latency > 0:
            time.sleep(scripted.latency)
        answer = json.dumps(message)
        completion_tokens = len(answer) // 4 + 1 + scripted.reasoning_tokens
        response: dict[str, Any] = {
            "id": f"chatcmpl-{digest[:24]}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(raw) // 4,
                "completion_tokens": completion_tokens,
                "total_tokens": len(raw) // 4 + completion_tokens,
            },
        }
        if scripted.prompt_cache is not None:
            cached = scripted.prompt_cache.cached_tokens(body)
            response["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
        if scripted.reasoning_tokens:
            response["usage"]["completion_tokens_details"] = {"reasoning_tokens": scripted.reasoning_tokens}
        with scripted._lock:
            scripted._stats.completions += 1
        self._json(200, response, headers=limit_headers)

    def _hold_until_the_client_gives_up(self, limit: float) -> None:
        """Answer nothing until the client closes the connection (its timeout), `limit` at most."""
        self.connection.settimeout(limit)
        try:
            while self.connection.recv(4096):  # a client waiting for its answer sends nothing more
                pass
        except OSError:  # the limit passed, or the connection was reset or shut down (stop())
            pass

    def _json(
        self, status: int, document: Any, retry_after: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(document).encode(), retry_after, headers)

    def _send(
        self, status: int, payload: bytes, retry_after: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if retry_after:
                self.send_header("Retry-After", f"{self.server.scripted.faults.retry_after:g}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # http.server's own
            buffer.append(b"\r\n")  # end_headers(), sent with the body in one write
            head = b"".join(buffer)
            buffer.clear()
            self.wfile.write(head + payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; prints the base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", action="append", required=True, help="task file or built-in set")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--parallel-calls", type=float, default=0.0, help="share of agent answers with two tool calls"
    )
    parser.add_argument(
        "--confirm-writes", action="store_true", help="ask the user for a yes before each write"
    )
    parser.add_argument(
        "--answer", default=Conduct.answer, help="the user's answer to a confirmation question"
    )
    parser.add_argument("--chatty", action="store_true", help="tool calls come with a line of text")
    parser.add_argument(
        "--plays",
        metavar="FILE",
        help='JSON {"task id": [{"name", "kwargs"}, ...]}: actions the agent makes instead of the gold',
    )
    parser.add_argument(
        "--api-key-env", default=None, help="require the key in this environment variable (default: any key)"
    )
    parser.add_argument(
        "--optimizer-models",
        action="store_true",
        help="also serve scripted-wiki-agent, scripted-section-agent and scripted-reflector "
        "(taugepa.testing.scripted_optimizer)",
    )
    parser.add_argument("--rps", type=float, help="allow this many requests a second, 429 beyond (as OpenAI)")
    parser.add_argument("--burst", type=float, help="requests the rate limit's bucket holds (default: --rps)")
    parser.add_argument("--prompt-cache", action="store_true", help="report cached_tokens as OpenAI does")
    parser.add_argument("--reasoning-tokens", type=int, default=0, help="reasoning tokens in each answer")
    args = parser.parse_args(argv)
    tasks = load_tasks(args.tasks).tasks
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    faults = Faults(rate=args.fault_rate, parallel_calls=args.parallel_calls)
    conduct = Conduct(confirm_writes=args.confirm_writes, answer=args.answer, chatty=args.chatty)
    plays = None
    if args.plays:
        with open(args.plays) as handle:
            plays = {
                task_id: [Action(a["name"], a["kwargs"]) for a in actions]
                for task_id, actions in json.load(handle).items()
            }
    server = ScriptedServer(
        tasks,
        latency=args.latency,
        faults=faults,
        api_key=api_key,
        port=args.port,
        conduct=conduct,
        plays=plays,
        extra_models={**EXTRA_MODELS, **FEWSHOT_MODELS} if args.optimizer_models else None,
        rate_limit=RateLimit(args.rps, args.burst) if args.rps else None,
        prompt_cache=args.prompt_cache,
        reasoning_tokens=args.reasoning_tokens,
    )
    print(server.base_url, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
