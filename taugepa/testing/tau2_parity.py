"""Gold playback over a recording OpenAI-compatible server: is taugepa's tau2 protocol tau2's?

`RecordingServer` serves two deterministic models on 127.0.0.1 and keeps every request body:

- `parity-agent` plays a task's gold actions: its first message makes two tool calls at once
  (a lookup of a reservation that does not exist, so a tool error, and the first gold
  action), then one gold action per message, then a text that says the task's required outputs; on every other
  task the user then asks for a human, and the agent transfers (`transfer_to_human_agents`,
  then tau2's transfer text);
- `parity-user` opens with a line naming the task, asks for a human or ends the conversation
  (`###STOP###`, or `###TRANSFER###` after a transfer) as the plan says.

Answers depend only on the conversation (tool-call ids included), so tau2's own orchestrator
and taugepa, run against the same server, must send the same requests if they follow the same
protocol. `compare_requests` says, field by field, where two request lists differ.
`scripts/check_tau2_parity.py` runs all 50 tau2 airline tasks; `tests/test_tau2_parity.py` a few.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taugepa.episode.tau2_protocol import instruction_from_scenario_prompt
from taugepa.episode.user_sim import instruction_from_prompt
from taugepa.tasks.model import Task

AGENT_MODEL, USER_MODEL = "parity-agent", "parity-user"
MISSING_RESERVATION = "ZZZZZZ"
ASK_FOR_HUMAN = "Thanks. Could you transfer me to a human agent, please?"
TRANSFER_TEXT = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
_OPENING = re.compile(r"\(ref ([^)]+)\)")


def transfers(task: Task) -> bool:
    """Whether the playback of this task ends with a transfer (every other task)."""
    return task.index % 2 == 1


def agent_plan(task: Task) -> list[list[tuple[str, dict[str, Any]]] | str]:
    """The agent's messages: lists of tool calls, or a text.

    The first message makes two calls: a lookup that fails (a tool error), then the first
    gold action (or a `calculate` when there is none), so a harness that runs only the
    first call of a message misses a gold action.
    """
    gold = [(action.name, dict(action.kwargs)) for action in task.actions]
    failing = ("get_reservation_details", {"reservation_id": MISSING_RESERVATION})
    first = gold[0] if gold else ("calculate", {"expression": "2 + 2"})
    plan: list[list[tuple[str, dict[str, Any]]] | str] = [[failing, first]]
    plan += [[call] for call in gold[1:]]
    plan.append("Your request has been handled. " + " ".join(task.outputs))
    if transfers(task):
        plan.append([("transfer_to_human_agents", {"summary": "The customer asked for a human agent."})])
        plan.append(TRANSFER_TEXT)
    return plan


class ParityModels:
    """The two models' answers, a function of the request alone."""

    def __init__(self, tasks: Sequence[Task]):
        self.by_id = {task.id: task for task in tasks}
        self.by_instruction = {task.instruction: task for task in tasks}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        if body.get("model") == USER_MODEL:
            return self._user(messages)
        return self._agent(messages)

    def _user(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
        instruction = instruction_from_scenario_prompt(system) or instruction_from_prompt(system)
        task = self.by_instruction.get(instruction or "")
        if task is None:
            return _text("I do not know why I am here. ###STOP###")
        if not any(m.get("role") == "assistant" for m in messages):
            return _text(f"Hello, I need help with my booking (ref {task.id}).")
        last = str(messages[-1].get("content") or "")
        if TRANSFER_TEXT in last:
            return _text("###TRANSFER###")
        asked = any(m.get("role") == "assistant" and m.get("content") == ASK_FOR_HUMAN for m in messages)
        if transfers(task) and not asked:
            return _text(ASK_FOR_HUMAN)
        return _text("###STOP###")

    def _agent(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        users = [m for m in messages if m.get("role") == "user"]
        found = _OPENING.search(str(users[0].get("content") or "")) if users else None
        task = self.by_id.get(found.group(1)) if found else None
        if task is None:
            return _text("Sorry, I cannot tell which task this is.")
        first_user = messages.index(users[0])
        position = sum(1 for m in messages[first_user:] if m.get("role") == "assistant")
        plan = agent_plan(task)
        step = plan[min(position, len(plan) - 1)]
        if isinstance(step, str):
            return _text(step)
        calls = [
            {
                "id": f"call_{task.id}_{position}_{number}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for number, (name, arguments) in enumerate(step)
        ]
        return {"role": "assistant", "content": None, "tool_calls": calls}


def _text(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


class RecordingServer:
    """The parity models over HTTP on 127.0.0.1; `requests` holds every request body received."""

    def __init__(self, tasks: Sequence[Task]):
        self.models = ParityModels(tasks)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.recording = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[dict[str, Any]]:
        """The requests recorded since the last call, and forget them."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def record(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
            number = len(self.requests)
        message = self.models.answer(body)
        return {
            "id": f"chatcmpl-parity-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no per-request logs
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        answer = self.server.recording.record(body)  # type: ignore[attr-defined]
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# -- comparing requests ---------------------------------------------------------------------

FIELDS = ("system prompt", "messages", "tool results", "tools", "parameters")
IGNORED_PARAMETERS = ("seed",)  # tau2 derives its own per run; taugepa records its own


def request_fields(request: dict[str, Any]) -> dict[str, Any]:
    """A request split into the fields the comparison reports on (tool-call ids kept as sent)."""
    messages = request.get("messages") or []
    system = [m.get("content") for m in messages if m.get("role") == "system"]
    tool_results = [(m.get("tool_call_id"), m.get("content")) for m in messages if m.get("role") == "tool"]
    others = [m for m in messages if m.get("role") not in ("system", "tool")]
    parameters = {
        key: value
        for key, value in request.items()
        if key not in ("messages", "tools") and key not in IGNORED_PARAMETERS
    }
    return {
        "system prompt": system,
        "messages": [_normal_message(m) for m in others],
        "tool results": tool_results,
        "tools": request.get("tools"),
        "parameters": parameters,
    }


def _normal_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message with its tool calls' arguments decoded (tau2 re-encodes them with json.dumps)."""
    normal = dict(message)
    calls = normal.get("tool_calls")
    if calls:
        normal["tool_calls"] = [
            {
                **call,
                "function": {**call["function"], "arguments": _decoded(call["function"].get("arguments"))},
            }
            for call in calls
        ]
    return normal


def _decoded(arguments: Any) -> Any:
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return arguments


def compare_requests(theirs: Sequence[dict[str, Any]], ours: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per side (agent, user): requests compared, identical per field, and the first difference."""
    report: dict[str, Any] = {}
    for side, model in (("agent", AGENT_MODEL), ("user", USER_MODEL)):
        a = [r for r in theirs if r.get("model", "").endswith(model)]
        b = [r for r in ours if r.get("model", "").endswith(model)]
        counts = {name: 0 for name in FIELDS}
        first: dict[str, str] = {}
        for number, (x, y) in enumerate(zip(a, b, strict=False)):
            fx, fy = request_fields(x), request_fields(y)
            for name in FIELDS:
                if fx[name] == fy[name]:
                    counts[name] += 1
                elif name not in first:
                    first[name] = f"request {number}: tau2 {_short(fx[name])} / taugepa {_short(fy[name])}"
        identical = sum(1 for x, y in zip(a, b, strict=False) if request_fields(x) == request_fields(y))
        report[side] = {
            "tau2_requests": len(a),
            "taugepa_requests": len(b),
            "compared": min(len(a), len(b)),
            "identical": identical,
            "identical_per_field": counts,
            "first_difference": first,
        }
    return report


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
