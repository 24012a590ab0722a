"""Chat completions from any OpenAI-compatible endpoint, through the `openai` SDK.

`ChatClient.complete` is the only place taugepa talks to an LLM. It adds what the SDK
leaves to the caller, in one loop:

- retries with exponential backoff and jitter on 429, 408, 409, 5xx, timeouts, dropped
  connections and malformed bodies, waiting as long as a `Retry-After` (or
  `Retry-After-Ms`) header asks; when the retries are spent it raises `InfrastructureError`
  (the episode's verdict becomes `error`, never the agent's failure). The SDK's own retries
  are off: its backoff cannot be tuned and its retry count is not reported per call.
- any other 4xx (bad key, unknown model, rejected parameter) raises `LLMConfigError`: one
  line saying what to fix, and the session stops. So does an endpoint that cannot even be
  connected to before it has ever answered (a wrong `--base-url` or a server not running).
- rate limits (`taugepa.llm.rate_limits`): every request goes through its endpoint's gate,
  which paces requests to what the endpoint allows and waits out 429s (they do not count as
  retries) while it can.
- the response cache (`taugepa.llm.cache`): identical requests are answered from disk.
- usage: tokens (cached and reasoning ones too), retries, cache hits, rate-limit waits and
  cost (`taugepa.llm.prices`) of every call.

Requests go through the SDK client's generic `post` (its documented way to send a request
as is) with the standard chat-completions JSON body, serialized once: the same bytes key the
cache. `chat.completions.create` would convert and deep-copy the whole transcript on every
call, milliseconds of CPU under the GIL that measurably slowed 16 episodes in flight on two
cores. The SDK still does the rest: URL, auth headers, timeouts, mapping HTTP errors.

API keys are read from environment variables named in the configuration; their values are
never stored in a configuration object, logged or put in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from taugepa.errors import InfrastructureError
from taugepa.guards.limits import MAX_RESPONSE_BYTES
from taugepa.llm.answer_ends import cacheable, context_overflow, with_cut_attempt
from taugepa.llm.cache import ResponseCache, request_key
from taugepa.llm.config import Endpoint, LLMConfig, LLMConfigError, public_url, read_api_key
from taugepa.llm.endpoint_health import answer_sample
from taugepa.llm.prices import PriceTable, price_of
from taugepa.llm.rate_limits import RateWaits, gate_for, rate_limit_answer
from taugepa.llm.usage import CallUsage, token_details
from taugepa.llm.wire import (
    MalformedResponse,
    assistant_message,
    parse_body,
    parse_retry_after,
    wire_messages,
)

log = logging.getLogger("taugepa.llm")

MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer pause is treated as down
CONNECT_TIMEOUT_S = 10.0
TRANSIENT_STATUS = frozenset({408, 409, 429})
CHAT_COMPLETIONS_PATH = "/chat/completions"
JSON_REQUEST_OPTIONS: Any = {"headers": {"Content-Type": "application/json"}}
MAX_MESSAGE_CHARS = 300
MIN_SECRET_CHARS = 16  # shorter keys (`none`, `local`) are placeholders, not secrets
# The options that name each side's model and endpoint, for messages that say what to fix.
SIDE_FLAGS = {
    "agent": ("--agent-model", "--base-url"),
    "user": ("--user-model", "--user-base-url"),
    "reflection": ("--reflection-model", "--reflection-base-url"),
}


class RequestFailed(InfrastructureError):
    """A request still failed after all its retries; `usage` records the attempt."""

    def __init__(self, message: str, usage: CallUsage):
        super().__init__(message)
        self.usage = usage


@dataclass
class Completion:
    """One assistant message and what it cost."""

    message: dict[str, Any]
    usage: CallUsage


class ChatClient:
    """Chat completions against one endpoint: retries, cache, usage. Thread-safe."""

    def __init__(self, endpoint: Endpoint, api_key: str):
        from taugepa.llm.deadline import http_client
        from taugepa.llm.sdk import import_openai

        openai = import_openai()

        self.endpoint = endpoint
        self.url = public_url(endpoint.base_url)
        self._api_key = api_key
        self._secret_forms = secret_forms(api_key)
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=self._api_key,
            base_url=endpoint.base_url,
            max_retries=0,
            timeout=openai.Timeout(endpoint.timeout, connect=min(endpoint.timeout, CONNECT_TIMEOUT_S)),
            # the timeout is a total: connect, headers and body (taugepa.llm.deadline)
            http_client=http_client(endpoint.timeout, MAX_RESPONSE_BYTES, endpoint.base_url),
        )
        self.cache = ResponseCache(endpoint.cache_dir or None) if endpoint.cache_dir is not None else None
        self.prices = PriceTable(dict(price_of(entry) for entry in endpoint.prices))
        key_digest = hashlib.sha256(api_key.encode()).hexdigest()
        self.gate = gate_for(endpoint.base_url, key_digest, endpoint.rpm, endpoint.tpm)
        self.gate.url = self.url
        self._answered = threading.Event()  # set once the server has answered anything at all

    def complete(
        self,
        *,
        side: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = 0.0,
        seed: int | None = None,
        cache_if: Any = None,
        tool_choice: str | None = None,
        wire_style: str = "openai",
    ) -> Completion:
        """One assistant message for `messages`, from the cache or the endpoint.

        `cache_if(message)`, when given, says whether an answer may be cached (or replayed from
        the cache): the reflection model's empty proposals are not answers to keep.
        `tool_choice` is sent with the tools when given; `wire_style` is how the messages are
        written (`taugepa.llm.wire.wire_messages`: tau2's protocol writes them as tau2 does).
        """
        keep = cache_if or (lambda message: True)
        request: dict[str, Any] = {"model": model, "messages": wire_messages(messages, wire_style)}
        if tools:
            request["tools"] = tools
            if tool_choice is not None:
                request["tool_choice"] = tool_choice
        if temperature is not None:
            request["temperature"] = temperature
        if seed is not None:
            request["seed"] = seed
        # Serialized once: the same bytes are the cache key and what goes on the wire.
        content = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        key = request_key(self.endpoint.base_url, content) if self.cache else None
        if self.cache and key:
            body = self.cache.get(key)
            if body is not None:
                try:
                    cached = self._completion(side, model, body, cached=True, retries=0)
                    if cacheable(cached.message) and keep(cached.message):
                        return cached
                except MalformedResponse:
                    pass  # a damaged entry (or a cut answer an older version kept): ask again
        waits = RateWaits()
        body, retries = self._request_with_retries(side, model, content, waits)
        completion = self._completion(side, model, body, cached=False, retries=retries, waits=waits)
        if completion.message.get("finish_reason") == "length":  # cut at the token limit: ask once more
            cut = completion.usage
            body, again = self._request_with_retries(side, model, content, waits)
            completion = self._completion(
                side, model, body, cached=False, retries=retries + again + 1, waits=waits
            )
            completion.usage = with_cut_attempt(cut, completion.usage)
        if self.cache and key and cacheable(completion.message) and keep(completion.message):
            self.cache.put(key, body)
        return completion

    def _completion(
        self,
        side: str,
        model: str,
        body: dict[str, Any],
        cached: bool,
        retries: int,
        waits: RateWaits | None = None,
    ) -> Completion:
        message = assistant_message(body)
        usage = body.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        cached_tokens, reasoning = token_details(usage, prompt_tokens, completion_tokens)
        # a cached answer is free, but a model without a price says "unknown" cached or not
        cost = (
            self.prices.cost(model, 0, 0)
            if cached
            else self.prices.cost(model, prompt_tokens, completion_tokens, cached_tokens)
        )
        waits = waits or RateWaits()
        call = CallUsage(
            side=side,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached=cached,
            retries=retries,
            cost_usd=cost,
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning,
            rate_limited=waits.rate_limited,
            rate_wait_s=waits.wait_s,
            in_flight_limit=waits.in_flight_limit,
        )
        return Completion(message=message, usage=call)

    def _request_with_retries(
        self, side: str, model: str, content: bytes, waits: RateWaits
    ) -> tuple[dict[str, Any], int]:
        """The response body; retries transient failures, raises on the others."""
        attempts = self.endpoint.max_retries + 1
        for attempt in range(attempts):
            try:
                text = self._post(side, content, waits)
                self._answered.set()
                body = parse_body(self.scrub_answer(text))
                assistant_message(body)  # validate before anyone caches or uses it
                return body, attempt
            except self._openai.APIStatusError as exc:
                self._answered.set()
                status = exc.status_code
                if status not in TRANSIENT_STATUS and status < 500:
                    overflow = context_overflow(
                        status, exc.body, side, model, self.scrub(_server_message(exc))
                    )
                    if overflow is not None:  # the model's limit, not the configuration's fault
                        raise overflow from None
                    raise LLMConfigError(self._status_message(side, model, exc)) from None
                sample = answer_sample(exc.response.headers.get("content-type"), exc.response.text)
                reason = self.scrub(_one_line(f"HTTP {status} {_reason_phrase(exc)}".strip() + f", {sample}"))
                retry_after = parse_retry_after(exc.response.headers)
            except self._openai.APIConnectionError as exc:  # includes APITimeoutError
                reason = self._connection_reason(exc)
                retry_after = None
                last_chance = attempt >= 1 or attempt == attempts - 1
                if _could_not_connect(exc) and not self._answered.is_set() and last_chance:
                    raise LLMConfigError(
                        f"cannot reach the LLM endpoint {self.url} ({reason}): check --base-url "
                        "(or --user-base-url) and that the server is running"
                    ) from None
            except MalformedResponse as exc:
                reason, retry_after = (
                    self.scrub(_one_line(f"malformed response ({exc}): {answer_sample(None, text)}")),
                    None,
                )
            failed = CallUsage(side, model, 0, 0, cached=False, retries=attempt, cost_usd=0.0, failed=True)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                raise RequestFailed(
                    f"the {side} model {model!r} at {self.url} asked to wait {retry_after:.0f} s "
                    f"(Retry-After), more than the {MAX_RETRY_AFTER_S:.0f} s taugepa waits",
                    failed,
                )
            if attempt == attempts - 1:
                raise RequestFailed(
                    f"the {side} model {model!r} at {self.url} failed {attempts} time(s); last: {reason}",
                    failed,
                )
            pause = retry_after if retry_after is not None else self._backoff(attempt)
            log.info(
                "%s request to %s failed (%s); retry %d of %d in %.2f s",
                side,
                self.url,
                reason,
                attempt + 1,
                attempts - 1,
                pause,
            )
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _post(self, side: str, content: bytes, waits: RateWaits) -> str:
        """One attempt, through the endpoint's gate (which waits out rate-limit answers)."""
        import httpx2

        def post() -> Any:
            return self._client.post(
                CHAT_COMPLETIONS_PATH, content=content, cast_to=httpx2.Response, options=JSON_REQUEST_OPTIONS
            )

        response = self.gate.send(side, post, len(content) // 4, rate_limit_answer, MAX_RETRY_AFTER_S, waits)
        return str(response.text)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (75-100% of the nominal pause), capped."""
        nominal = min(self.endpoint.retry_delay * 2**attempt, MAX_BACKOFF_S)
        return nominal * (1 - 0.25 * random.random())

    def _status_message(self, side: str, model: str, exc: Any) -> str:
        status = exc.status_code
        flag, url_flag = SIDE_FLAGS.get(side, SIDE_FLAGS["user"])
        detail = self.scrub(_server_message(exc))
        if status == 401:
            return (
                f"the LLM endpoint {self.url} rejected the API key in ${self.endpoint.api_key_env} "
                f"(HTTP 401): set a valid key"
            )
        if status == 404:
            return (
                f"the {side} model {model!r} was not found at {self.url} (HTTP 404: {detail}): "
                f"check {flag} and {url_flag} (which usually ends in /v1)"
            )
        return (
            f"the LLM endpoint {self.url} refused the {side} model {model!r} request "
            f"(HTTP {status}: {detail}): fix the configuration ({flag}, {url_flag}, --temperature)"
        )

    def _connection_reason(self, exc: Any) -> str:
        if isinstance(exc, self._openai.APITimeoutError):
            return f"no answer within {self.endpoint.timeout:g} s"
        cause = exc.__cause__
        text = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        return self.scrub(_one_line(text))

    def scrub(self, text: str) -> str:
        """Remove the API key, in any encoding a server may echo it in, from text from elsewhere."""
        for form in self._secret_forms:
            text = text.replace(form, "***")
        return text

    def scrub_answer(self, text: str) -> str:
        """A successful answer's text without the key, should the server echo it: the transcript
        goes to scores files and reports. A key shorter than a real one (`none` for a local
        server that takes any) is no secret, and scrubbing it would change what the model said."""
        return self.scrub(text) if len(self._api_key) >= MIN_SECRET_CHARS else text


def secret_forms(secret: str) -> list[str]:
    """The ways a secret can appear in text a server sends back: as is, percent-encoded, or in
    base64 at any offset (as in `Authorization: Basic base64(user:KEY)`), longest first.

    Base64 encodes 3 bytes in 4 characters, so the characters that depend only on the secret
    are the same whatever precedes it, for each of the three alignments.
    """
    if len(secret) < 4:
        return []
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[(8 * offset + 5) // 6 : (8 * (offset + len(raw))) // 6]
        if len(core) >= 6:
            forms.update({core, core.replace("+", "-").replace("/", "_")})
    return sorted(forms, key=len, reverse=True)


def _could_not_connect(exc: Any) -> bool:
    """True when no connection could be made at all (refused, unknown host, connect timeout)."""
    return type(exc.__cause__).__name__ in ("ConnectError", "ConnectTimeout")


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
    text = str(message or getattr(exc, "message", "") or _reason_phrase(exc))
    return _one_line(text)


def _reason_phrase(exc: Any) -> str:
    response = getattr(exc, "response", None)
    return str(getattr(response, "reason_phrase", "") or "")


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


_clients: dict[tuple[Endpoint, str], ChatClient] = {}
_clients_lock = threading.Lock()


def recorded_completion(client: ChatClient, calls: list[CallUsage], **request: Any) -> Completion:
    """`client.complete(**request)`, appending its usage to `calls` (a request that still failed
    after its retries too, so that an episode's cost counts every attempt)."""
    try:
        completion = client.complete(**request)
    except RequestFailed as exc:
        calls.append(exc.usage)
        raise
    calls.append(completion.usage)
    return completion


def client_for(endpoint: Endpoint) -> ChatClient:
    """The process-wide client of an endpoint and key (one connection pool for all threads)."""
    api_key = read_api_key(endpoint.api_key_env)
    registry_key = (endpoint, hashlib.sha256(api_key.encode()).hexdigest())
    client = _clients.get(registry_key)
    if client is None:
        with _clients_lock:
            client = _clients.get(registry_key)
            if client is None:
                client = _clients[registry_key] = ChatClient(endpoint, api_key)
    return client


def check_api_keys(config: LLMConfig) -> None:
    """A ConfigError now if a side's model or key is missing (without loading the SDK)."""
    for side in ("agent", "user"):
        config.model(side)
        read_api_key(config.endpoint(side).api_key_env)


def prepare_clients(config: LLMConfig) -> None:
    """Check the keys and build both sides' clients now, before any episode needs them.

    A missing key becomes one ConfigError up front, and the first episodes do not all
    wait for the SDK's import and client set-up at once.
    """
    for side in ("agent", "user"):
        config.model(side)
        client_for(config.endpoint(side))
