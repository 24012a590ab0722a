"""A total deadline for each LLM request: connect, headers and body, whatever the server does.

httpx's timeouts bound each network operation, not the request: a server that trickles its
answer a byte at a time (headers or body), or streams a chunked body that never ends, keeps
every single read short and the request alive for ever. `DeadlineTransport` is the httpx
transport the `openai` SDK gets (as `http_client=DefaultHttpxClient(transport=...)`):

- every socket operation of a request (connect, TLS, write, each read) waits at most until
  the request's deadline (a network backend that clamps the timeout httpcore asks for), so a
  trickle of headers ends at the deadline;
- the body is read through a stream that checks the deadline between chunks and the size of
  what arrived, so an endless body ends at the deadline or at `max_body_bytes`, whichever
  comes first; answers are asked for uncompressed, and a compressed one is inflated here,
  within the same size limit.

A missed deadline is an httpx `ReadTimeout` (or `ConnectTimeout`), which the SDK reports as
a timeout: the client retries it, and when the retries are spent the episode's verdict is
`error`, as for any other timeout. Proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`)
are honoured, as httpx does.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

from taugepa.guards.limits import human_bytes

_local = threading.local()  # .deadline: time.monotonic() by which this thread's request must end

_ERRORS: tuple[tuple[type[Exception], type[httpx2.TransportError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx2.Request) -> Iterator[None]:
    """httpcore's exceptions as the httpx ones the SDK maps to its own."""
    try:
        yield
    except httpx2.HTTPError:
        raise
    except Exception as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise


@contextlib.contextmanager
def _until(deadline: float) -> Iterator[None]:
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def _clamped(timeout: float | None, expired: type[Exception]) -> float | None:
    """The timeout of one socket operation, cut to what is left of the request's deadline."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore2.NetworkStream):
    """A connection whose every operation ends by the request's deadline."""

    def __init__(self, inner: httpcore2.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamped(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamped(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        clamped = _clamped(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, clamped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    """httpcore's own socket backend, with every timeout clamped to the request's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        clamped = _clamped(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, clamped, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        clamped = _clamped(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, clamped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Body(httpx2.SyncByteStream):
    """The response body, read by the deadline and within the size limit (inflated if compressed)."""

    def __init__(
        self,
        stream: Any,
        request: httpx2.Request,
        deadline: float,
        total_s: float,
        max_bytes: int,
        encoding: str,
    ):
        self._stream = stream
        self._request = request
        self._deadline = deadline
        self._total_s = total_s
        self._max_bytes = max_bytes
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding else None

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        received = 0
        while True:
            with _until(self._deadline), _httpx_errors(self._request):
                chunk = next(chunks, None)
            if chunk is None:
                rest = self._inflater.flush() if self._inflater is not None else b""
                if received + len(rest) > self._max_bytes:
                    raise httpx2.ReadError(
                        f"the answer is larger than {human_bytes(self._max_bytes)}", request=self._request
                    )
                if rest:
                    yield rest
                return
            if time.monotonic() > self._deadline:
                raise httpx2.ReadTimeout(
                    f"no complete answer within {self._total_s:g} s", request=self._request
                )
            if self._inflater is not None:
                chunk = self._inflate(chunk, received)
            received += len(chunk)
            if received > self._max_bytes:
                raise httpx2.ReadError(
                    f"the answer is larger than {human_bytes(self._max_bytes)}", request=self._request
                )
            yield chunk

    def _inflate(self, chunk: bytes, received: int) -> bytes:
        try:
            return self._inflater.decompress(chunk, self._max_bytes + 1 - received)  # type: ignore[union-attr]
        except zlib.error as exc:
            raise httpx2.DecodingError(f"cannot inflate the answer ({exc})", request=self._request) from None

    def close(self) -> None:
        with _httpx_errors(self._request):
            self._stream.close()


class DeadlineTransport(httpx2.BaseTransport):
    """An httpx transport giving each request `total_s` seconds in all and `max_body_bytes` at most."""

    def __init__(
        self,
        total_s: float,
        max_body_bytes: int,
        *,
        max_connections: int = 1000,
        max_keepalive_connections: int = 100,
        keepalive_expiry: float = 5.0,
        trust_env: bool = True,
        tls: bool = True,
    ):
        self.total_s = total_s
        self.max_body_bytes = max_body_bytes
        self._settings: dict[str, Any] = {
            # Loading the certificate store takes about 0.1 s: a plain-HTTP endpoint (a local
            # server) skips it; httpcore builds a default context if TLS is ever needed after all.
            "ssl_context": httpx2.create_ssl_context(trust_env=trust_env) if tls else None,
            "max_connections": max_connections,
            "max_keepalive_connections": max_keepalive_connections,
            "keepalive_expiry": keepalive_expiry,
            "network_backend": _Backend(),
        }
        self._direct = httpcore2.ConnectionPool(**self._settings)
        self._proxies = _environment_proxies() if trust_env else {}
        self._proxy_pools: dict[str, httpcore2.HTTPProxy] = {}
        self._lock = threading.Lock()

    def _pool(self, url: httpx2.URL) -> Any:
        proxy = self._proxies.get(url.scheme)
        if proxy is None or urllib.request.proxy_bypass(url.host):
            return self._direct
        with self._lock:
            pool = self._proxy_pools.get(proxy)
            if pool is None:
                pool = self._proxy_pools[proxy] = httpcore2.HTTPProxy(proxy_url=proxy, **self._settings)
        return pool

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        deadline = time.monotonic() + self.total_s
        request.headers["Accept-Encoding"] = "identity"
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _until(deadline), _httpx_errors(request):
            response = self._pool(request.url).handle_request(core_request)
        headers = httpx2.Headers(response.headers)
        encoding = headers.pop("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            headers.pop("content-length", None)
        else:
            encoding = ""
        body = _Body(response.stream, request, deadline, self.total_s, self.max_body_bytes, encoding)
        return httpx2.Response(
            status_code=response.status, headers=headers, stream=body, extensions=response.extensions
        )

    def close(self) -> None:
        self._direct.close()
        for pool in self._proxy_pools.values():
            pool.close()


def _environment_proxies() -> dict[str, str]:
    """`http`/`https` proxies from the environment (HTTP_PROXY, HTTPS_PROXY; NO_PROXY is checked per host)."""
    return {
        scheme: url
        for scheme, url in urllib.request.getproxies().items()
        if scheme in ("http", "https") and url
    }


def http_client(total_s: float, max_body_bytes: int, base_url: str) -> Any:
    """The httpx client for the `openai` SDK at `base_url`: its defaults, and this deadline transport."""
    from taugepa.llm.sdk import import_openai

    openai = import_openai()

    tls = not base_url.lower().startswith("http://")
    return openai.DefaultHttpxClient(transport=DeadlineTransport(total_s, max_body_bytes, tls=tls))
