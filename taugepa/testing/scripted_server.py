"""A real OpenAI-compatible HTTP server whose models play tasks from their gold actions.

For tests and benchmarks of the LLM path without any LLM: the client, the retries, the
cache and the episode loop all run for real over HTTP on 127.0.0.1.

- Model `scripted-agent` plays the agent: it recognises the task from the first user
  message, calls the gold actions one per turn (counting the successful tool results in the
  transcript), then says it is done, quoting the task's required outputs. `plays` gives it
  other actions to make for a task (to break policy rules on purpose), and its `Conduct`
  says how it treats the user: by default it writes without asking, as tau-bench's gold
  does; with `confirm_writes` it lists each write and asks for a yes first; with `chatty`
  its tool calls come with a line of text.
- Model `scripted-user` plays the customer: it recognises the task from the instruction in
  the user simulator's system prompt, opens with the instruction, answers the agent's
  confirmation question (`Conduct.answer`, a yes by default), and stops (`###STOP###`) as
  soon as the agent says anything else.
- Any other model gets a 404, a wrong API key a 401.

Everything the server does is a pure function of the request body, so runs are
reproducible, and so are the injected faults: transient ones (429 with Retry-After, 500,
503 with Retry-After, a hang past the client's timeout, a dropped connection, a 200 whose
body is not a completion), at most
`max_in_a_row` times for one request so that retries succeed; and agent misbehaviour
answered with 200 (malformed tool-call JSON, an unknown tool name, two calls in one
message), after which the scripted agent recovers. A fixed latency per answer simulates a
remote model. `stats()` (or `GET /_stats`) counts requests, faults and the most requests
ever in flight at once.

Run it alone: `python -m taugepa.testing.scripted_server --tasks FILE --latency 0.3`.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taugepa.episode.user_sim import instruction_from_prompt
from taugepa.llm.config import LLMConfig
from taugepa.protocol import STOP_MARKER
from taugepa.tasks.model import Action, Task
from taugepa.world.engine import write_tool_names

AGENT_MODEL = "scripted-agent"
USER_MODEL = "scripted-user"
TRANSIENT_KINDS = ("429", "500", "503", "timeout", "disconnect", "garbage")
CONFIRM_QUESTION = "Do you confirm? Please answer yes or no."
CHATTY_LINE = "One moment, let me take care of that."


@dataclass(frozen=True)
class Conduct:
    """How the scripted agent treats the user (the defaults are its original manners)."""

    confirm_writes: bool = False  # list each write and ask CONFIRM_QUESTION before making it
    answer: str = "Yes, please go ahead."  # what the scripted user answers to that question
    chatty: bool = False  # every tool call comes with CHATTY_LINE as text


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often (shares of requests, decided by hashing the request)."""

    rate: float = 0.0  # transient faults: answered with an error, the client must retry
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    max_in_a_row: int = 2  # one request fails at most this often in a row
    retry_after: float = 0.05  # seconds, sent with 429 and 503
    hang: float = 2.0  # a "timeout" answers after this long (set it above the client's timeout)
    malformed_arguments: float = 0.0  # agent answers whose tool-call arguments are not JSON
    unknown_tool: float = 0.0  # agent answers that call a tool that does not exist
    parallel_calls: float = 0.0  # agent answers with the right call plus a second one
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(TRANSIENT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: choose from {TRANSIENT_KINDS}")


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("by_model", "faults", "misbehaviour"):
            data[name] = dict(getattr(self, name))
        return data


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# An extra scripted model: (the models, the request body, its digest) -> the assistant message.
ExtraModel = Callable[["ScriptedModels", dict[str, Any], str], dict[str, Any]]


class ScriptedModels:
    """The scripted models: the answer to a request is a function of the request alone.

    `extra` adds models by name (for example the wiki-dependent agent and the reflection
    model of `taugepa.testing.scripted_optimizer`).
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        faults: Faults = Faults(),
        conduct: Conduct = Conduct(),
        plays: Mapping[str, Sequence[Action]] | None = None,
        extra: dict[str, ExtraModel] | None = None,
    ):
        self.tasks = {task.instruction: task for task in tasks}
        self.faults = faults
        self.conduct = conduct
        self.plays = dict(plays or {})  # task id -> the actions to make instead of the gold
        self.writes = write_tool_names()
        self.extra = dict(extra or {})

    @property
    def names(self) -> tuple[str, ...]:
        return (AGENT_MODEL, USER_MODEL, *self.extra)

    def answer(self, body: dict[str, Any], digest: str) -> dict[str, Any]:
        """The assistant message for a request to one of the scripted models."""
        model = body.get("model")
        if model in self.extra:
            return self.extra[model](self, body, digest)
        if model == USER_MODEL:
            return self._user(body.get("messages") or [])
        return self._agent(body.get("messages") or [], digest)

    def _user(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        instruction = instruction_from_prompt(system)
        task = self.tasks.get(instruction or "")
        if task is None:
            return {"role": "assistant", "content": "I am not sure why I am here. " + STOP_MARKER}
        said_before = sum(1 for m in messages if m.get("role") == "assistant")
        if said_before == 0:
            return {"role": "assistant", "content": task.instruction}
        asked = str(messages[-1].get("content") or "") if messages[-1].get("role") == "user" else ""
        return {
            "role": "assistant",
            "content": self.conduct.answer if CONFIRM_QUESTION in asked else STOP_MARKER,
        }

    def task_of(self, messages: list[dict[str, Any]]) -> Task | None:
        """The task an agent-side conversation is about (its first user message is the instruction)."""
        first_user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        return self.tasks.get(first_user or "")

    def _agent(
        self, messages: list[dict[str, Any]], digest: str, plan: Sequence[Action] | None = None
    ) -> dict[str, Any]:
        """Call `plan` (default: the task's plays, else its gold) one per turn, then close."""
        task = self.task_of(messages)
        if task is None:
            return {"role": "assistant", "content": "Sorry, I cannot tell which task this is."}
        actions = tuple(plan) if plan is not None else self.plays.get(task.id, task.actions)
        done = sum(
            1
            for m in messages
            if m.get("role") == "tool" and not str(m.get("content") or "").startswith("Error:")
        )
        if done >= len(actions):
            closing = "Your request has been handled."
            if task.outputs:
                closing += " The answer: " + "; ".join(task.outputs) + "."
            return {"role": "assistant", "content": closing}
        action = actions[done]
        if self.conduct.confirm_writes and action.name in self.writes and not _answered(messages):
            details = f"{action.name} with {json.dumps(action.kwargs)}"
            return {"role": "assistant", "content": f"I am about to call {details}. {CONFIRM_QUESTION}"}
        call = {
            "id": f"call_{digest[:16]}_0",
            "type": "function",
            "function": {"name": action.name, "arguments": json.dumps(action.kwargs)},
        }
        last = messages[-1] if messages else {}
        recovering = last.get("role") == "tool" and str(last.get("content") or "").startswith("Error:")
        text = CHATTY_LINE if self.conduct.chatty else None
        if not recovering:
            call, extra = self._misbehave(call, digest)
            if extra:
                return {"role": "assistant", "content": text, "tool_calls": [call, *extra]}
        return {"role": "assistant", "content": text, "tool_calls": [call]}

    def _misbehave(self, call: dict[str, Any], digest: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        faults, draw = self.faults, _unit(self.faults.seed, digest, "misbehave")
        function = call["function"]
        if draw < faults.malformed_arguments:
            bad = {**call, "function": {**function, "arguments": function["arguments"][:-1] + ",}"}}
            return bad, []
        draw -= faults.malformed_arguments
        if draw < faults.unknown_tool:
            return {**call, "function": {**function, "name": "lookup_" + function["name"]}}, []
        draw -= faults.unknown_tool
        if draw < faults.parallel_calls:
            return call, [{**call, "id": call["id"][:-1] + "1"}]
        return call, []

    def misbehaviour_of(self, message: dict[str, Any]) -> str | None:
        """Which misbehaviour an answer shows (for the statistics)."""
        calls = message.get("tool_calls") or []
        if len(calls) > 1:
            return "parallel_calls"
        if calls and calls[0]["function"]["name"].startswith("lookup_"):
            return "unknown_tool"
        if calls and calls[0]["function"]["arguments"].endswith(",}"):
            return "malformed_arguments"
        return None


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
    ):
        self.models = ScriptedModels(tasks, faults, conduct, plays, extra_models)
        self.latency = latency
        self.faults = faults
        self.api_key = api_key
        self._stats = ServerStats()
        self._attempts: Counter = Counter()  # request digest -> attempts so far
        self._in_a_row: Counter = Counter()  # request digest -> faults in a row
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.scripted = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

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
            return self._stats.to_dict()

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

    def end(self) -> None:
        with self._lock:
            self._stats.in_flight -= 1

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
            draw = _unit(faults.seed, digest, attempt)
            if draw >= faults.rate:
                self._in_a_row[digest] = 0
                return None
            self._in_a_row[digest] += 1
        kind = faults.kinds[int(_unit(faults.seed, digest, attempt, "kind") * len(faults.kinds))]
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
        try:
            if not scripted.authorized(self.headers.get("Authorization")):
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
            time.sleep(scripted.faults.hang)
            self.close_connection = True
            return
        if fault == "disconnect":
            self.close_connection = True
            return
        if fault == "garbage":
            self._send(200, b"<html>502 Bad Gateway</html>")
            return
        message = scripted.models.answer(body, digest)
        misbehaviour = scripted.models.misbehaviour_of(message)
        if misbehaviour:
            scripted.count("misbehaviour", misbehaviour)
        if scripted.latency > 0:
            time.sleep(scripted.latency)
        answer = json.dumps(message)
        response = {
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
                "completion_tokens": len(answer) // 4 + 1,
                "total_tokens": len(raw) // 4 + len(answer) // 4 + 1,
            },
        }
        with scripted._lock:
            scripted._stats.completions += 1
        self._json(200, response)

    def _json(self, status: int, document: Any, retry_after: bool = False) -> None:
        self._send(status, json.dumps(document).encode(), retry_after)

    def _send(self, status: int, payload: bytes, retry_after: bool = False) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if retry_after:
                self.send_header("Retry-After", f"{self.server.scripted.faults.retry_after:g}")
            self._headers_buffer.append(b"\r\n")  # end_headers(), sent with the body in one write
            head, self._headers_buffer = b"".join(self._headers_buffer), []
            self.wfile.write(head + payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _answered(messages: list[dict[str, Any]]) -> bool:
    """Whether the user has just answered the agent's confirmation question."""
    if len(messages) < 2 or messages[-1].get("role") != "user":
        return False
    question = messages[-2]
    return question.get("role") == "assistant" and CONFIRM_QUESTION in str(question.get("content") or "")


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def scripted_llm_config(base_url: str, api_key_env: str, **settings: Any) -> LLMConfig:
    """LLM settings that point both sides at a scripted server's two models."""
    models = {"agent_model": AGENT_MODEL, "user_model": USER_MODEL}
    return LLMConfig(base_url=base_url, api_key_env=api_key_env, **{**models, **settings})


def _optimizer_models() -> dict[str, ExtraModel]:
    from taugepa.testing.scripted_optimizer import EXTRA_MODELS

    return EXTRA_MODELS


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; prints the base URL on the first line of stdout."""
    from taugepa.tasks.loading import load_tasks

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
        help="also serve scripted-wiki-agent and scripted-reflector (taugepa.testing.scripted_optimizer)",
    )
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
        extra_models=_optimizer_models() if args.optimizer_models else None,
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
