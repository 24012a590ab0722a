"""The chat-completions wire format: the messages sent, and the assistant message read back.

Everything an endpoint returns is checked here before anyone uses or caches it: a body that
is not a chat completion is `MalformedResponse` (retried like a server error).
"""

from __future__ import annotations

import json
import time
from typing import Any

from taugepa.guards.safe_json import UnsafeJSON, parse_json


class MalformedResponse(Exception):
    """A 200 response whose body is not a chat completion (retried like a server error)."""


WIRE_STYLES = ("openai", "tau2")


def wire_messages(messages: list[dict[str, Any]], style: str = "openai") -> list[dict[str, Any]]:
    """The transcript in the strict OpenAI message format (drops fields only taugepa uses).

    `style="tau2"`: as tau2's requests carry it (`tau2_wire_messages`).
    """
    if style == "tau2":
        return tau2_wire_messages(messages)
    wire = []
    for message in messages:
        role = message.get("role")
        out: dict[str, Any] = {"role": role, "content": message.get("content")}
        if role == "assistant" and message.get("tool_calls"):
            out["tool_calls"] = message["tool_calls"]
        if role == "tool":
            out["tool_call_id"] = message.get("tool_call_id", "")
        if out["content"] is None and "tool_calls" not in out:
            out["content"] = ""
        wire.append(out)
    return wire


def tau2_wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transcript as tau2's requests carry it (tau2's `to_litellm_messages`, then litellm,
    which leaves out what is None): an assistant message has no `content` when it has none and
    no `tool_calls` when it makes none; each tool call also names its tool at its top level and
    its arguments are re-encoded with `json.dumps` (tau2 decodes them when they arrive)."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role == "assistant":
            out: dict[str, Any] = {"role": role}
            if content is not None:
                out["content"] = content
            calls = message.get("tool_calls")
            if calls:
                out["tool_calls"] = [_tau2_call(call) for call in calls]
            wire.append(out)
        elif role == "tool":
            wire.append({"role": role, "content": content, "tool_call_id": message.get("tool_call_id", "")})
        else:
            wire.append({"role": role, "content": content})
    return wire


def _tau2_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    try:
        decoded = json.loads(arguments) if isinstance(arguments, str) else arguments
        arguments = json.dumps(decoded if decoded is not None else {})
    except ValueError:
        pass  # sent as the model wrote it (tau2 itself would have stopped on it)
    name = function.get("name")
    return {
        "id": call.get("id", ""),
        "name": name,
        "function": {"name": name, "arguments": arguments},
        "type": "function",
    }


def assistant_message(body: Any) -> dict[str, Any]:
    """The first choice's message as a transcript entry: content and well-formed tool calls."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise MalformedResponse("no choices[0].message") from None
    if not isinstance(message, dict):
        raise MalformedResponse("choices[0].message is not an object")
    content = message.get("content")
    result: dict[str, Any] = {"role": "assistant", "content": content if isinstance(content, str) else None}
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise MalformedResponse("choices[0].message.tool_calls is not a list")
    calls = []
    for position, call in enumerate(raw_calls):
        function = (call or {}).get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise MalformedResponse(f"tool call {position} has no function")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers send an object instead of a JSON string
            arguments = json.dumps(arguments if arguments is not None else {})
        calls.append(
            {
                # a missing id gets one that is unique and the same on every rerun (cache keys)
                "id": str(call.get("id") or f"call_{str(body.get('id') or '')[-16:]}_{position}"),
                "type": "function",
                "function": {"name": str(function.get("name") or ""), "arguments": arguments},
            }
        )
    if calls:
        result["tool_calls"] = calls
    elif result["content"] is None:
        result["content"] = ""
    # How the answer ended and what a model refused, kept in the transcript (never sent back:
    # `wire_messages` drops them); see `taugepa.llm.answer_ends`.
    finish = body["choices"][0].get("finish_reason") if isinstance(body["choices"][0], dict) else None
    if isinstance(finish, str) and finish:
        result["finish_reason"] = finish
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        result["refusal"] = refusal
    return result


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `Retry-After-Ms` or `Retry-After` (seconds or an HTTP date)."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_body(text: str | bytes) -> dict[str, Any]:
    """The response body as JSON within taugepa's limits, its text made safe to store."""
    try:
        body = parse_json(text)
    except UnsafeJSON as exc:
        raise MalformedResponse(f"body is not usable JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise MalformedResponse("body is not a JSON object")
    return body
