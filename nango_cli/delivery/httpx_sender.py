"""The single-webhook sender: httpx, with a total deadline per attempt.

httpx's timeouts are per operation (connect, each read, each write), so a
server that drips its status line a byte at a time, or streams `100 Continue`
forever, can hold a request far past them. The network backend here clamps
every operation to what is left of the attempt's deadline, and a watchdog
closes a TLS socket at the deadline (a handshake is several reads with one
timeout). It makes each request of an attempt; the attempt loop shared by every
sender (delivery/attempts.py) follows redirects by axios's rules. One connection
per attempt, so a retry never reuses a connection the receiver may have closed.

This module imports httpx; it is itself imported only where something is
sent (delivery/outbox.py), so commands that send nothing do not pay for it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

# (nango_cli/delivery/__init__.py keeps httpx's own command-line client out.)
import httpcore
import httpx

from nango_cli.delivery.attempts import (
    Answer,
    BodyCap,
    Failure,
    Outgoing,
    attempt_loop,
    classify_os_error,
    drive,
    followed,
    headers_dict,
)
from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP, AttemptRecord, ErrorClass
from nango_cli.delivery.transport import TLSOptions, proxy_for, ssl_context

_TRANSPORT_ERRORS = (
    httpx.TransportError,
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
    OSError,
)


class HttpxSender:
    """POSTs one webhook as one attempt. Thread-safe: each attempt has its own client."""

    def __init__(self, tls: TLSOptions | None = None) -> None:
        self.tls = tls or TLSOptions()
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()

    def close(self) -> None:
        """Nothing is pooled between attempts; kept so callers can treat senders alike."""

    def ssl_context(self) -> ssl.SSLContext:
        """Built once, when the first https target is contacted."""
        with self._ssl_lock:
            if self._ssl is None:
                self._ssl = ssl_context(self.tls)
            return self._ssl

    def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
        response_cap: int = RESPONSE_BODY_CAP,
        method: str = "POST",
    ) -> AttemptRecord:
        """One attempt within `timeout` seconds in all (redirects included), run by the
        shared attempt loop; this sender makes each request of it.

        Only transport failures become failed attempts; anything else (a bug, a
        header that cannot be encoded) is raised, never retried as "network".
        """
        transport = DeadlineTransport(time.monotonic() + timeout, self)
        with httpx.Client(transport=transport, trust_env=False) as client:

            def exchange(request: Outgoing) -> Answer | Failure:
                # Built as a Request, not with client.stream(): the client's default
                # headers (User-Agent, Accept, …) must not join the contract's.
                outgoing = httpx.Request(
                    request.method,
                    request.url,
                    headers=_wire(request.headers),
                    content=request.body,
                )
                try:
                    response = client.send(outgoing, stream=True)
                    try:
                        found = headers_dict(response.headers.multi_items())
                        cap = BodyCap(response_cap)
                        if not followed(response.status_code, found):
                            for chunk in response.iter_raw():
                                if cap.feed(chunk):
                                    break
                        return Answer(response.status_code, found, cap)
                    finally:
                        response.close()
                except _TRANSPORT_ERRORS as exc:
                    return Failure(*classify(exc, timeout))

            return drive(attempt_loop(url, method, headers, body), exchange)


def _wire(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    # Values go out as Latin-1 bytes, as Node.js (and so Nango) sends them.
    return [(k.encode("ascii"), v.encode("latin-1")) for k, v in headers.items()]


def classify(exc: BaseException, timeout: float) -> tuple[ErrorClass, str]:
    """An error class (named like Node's error codes) for an httpx/httpcore failure."""
    if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
        return "timeout", f"no complete response within {timeout:g}s"
    if isinstance(exc, httpx.ProxyError | httpcore.ProxyError):
        return "proxy", f"the proxy refused the request ({exc})"
    if isinstance(exc, httpx.UnsupportedProtocol | httpcore.UnsupportedProtocol):
        return "url", f"cannot send to that URL ({exc})"
    found = classify_os_error(exc)
    if found is not None:
        return found
    if isinstance(exc, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
        text = str(exc)
        if "disconnected" in text.lower() or "without sending" in text.lower():
            return "reset", "connection closed before a complete response"
        return "protocol", f"invalid HTTP response ({text})"
    if isinstance(exc, httpx.LocalProtocolError | httpcore.LocalProtocolError):
        return "protocol", f"the request could not be sent ({exc})"
    return "network", str(exc) or type(exc).__name__


# ---------------------------------------------------------------- deadline-aware plumbing


def _left(deadline: float, timeout: float | None) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read and write gets at most the time left."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(self.deadline, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(self.deadline, timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # A handshake is several reads under one socket timeout: a watchdog shuts the
        # socket at the deadline, so a dripping server cannot stretch it.
        sock = self.inner.get_extra_info("socket")
        left = _left(self.deadline, timeout)
        watchdog = threading.Timer(max(self.deadline - time.monotonic(), 0.0), _shutdown, (sock,))
        watchdog.daemon = True
        watchdog.start()
        try:
            upgraded = self.inner.start_tls(ssl_context, server_hostname, left)
        finally:
            watchdog.cancel()
        return _Stream(upgraded, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self.inner.connect_tcp(
            host, port, _left(self.deadline, timeout), local_address, socket_options
        )
        return _Stream(stream, self.deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - webhooks go to TCP URLs
        raise httpcore.UnsupportedProtocol("unix sockets are not supported")


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport whose every network operation respects one deadline.

    Built on httpcore's pool, as httpx's own transport is, with a network
    backend that clamps each operation to the time left. A pool per origin is
    made when first needed: a TLS context only for https, a proxy only when the
    environment names one (never for loopback).
    """

    def __init__(self, deadline: float, sender: HttpxSender) -> None:
        self.deadline = deadline
        self.sender = sender
        self.backend = _Backend(deadline)
        self.pools: dict[tuple[str, str, int | None], httpcore.ConnectionPool] = {}

    def _pool(self, url: httpx.URL) -> httpcore.ConnectionPool:
        key = (url.scheme, url.host, url.port)
        pool = self.pools.get(key)
        if pool is None:
            context = self.sender.ssl_context() if url.scheme == "https" else None
            proxy = proxy_for(str(url))
            if proxy is None:
                pool = httpcore.ConnectionPool(
                    ssl_context=context, max_connections=1, network_backend=self.backend
                )
            else:
                pool = httpcore.HTTPProxy(
                    proxy_url=proxy,
                    ssl_context=context,
                    max_connections=1,
                    network_backend=self.backend,
                )
            self.pools[key] = pool
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        seconds = max(self.deadline - time.monotonic(), 0.001)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), seconds)},
        )
        response = self._pool(request.url).handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield from self.stream

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


class CallFailed(OSError):
    """A JSON call to a local server got no answer, or an answer that is not JSON."""


def call_json(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    params: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One JSON request to a nango-hooks server on this machine (`check` reads the local
    API's request log this way): the status and the parsed answer."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.request(
                method, url, headers=dict(headers or {}), json=json_body, params=params
            )
            return response.status_code, response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CallFailed(str(exc) or type(exc).__name__) from None


STATE_ANSWER_LIMIT = 16 * 1024 * 1024


def get_json_bounded(
    url: str, limit: int = STATE_ANSWER_LIMIT, timeout: float = 10.0
) -> tuple[int, Any]:
    """GET a JSON answer of at most `limit` bytes (read while reading): the status and
    the parsed answer; for a redirect, which is not followed, the status and where it
    points (`{"redirect": LOCATION}`)."""
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if 300 <= response.status_code < 400:
                return response.status_code, {"redirect": response.headers.get("location", "")}
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise CallFailed(f"its answer is larger than {limit // (1024 * 1024)} MB")
            return response.status_code, json.loads(bytes(data)) if data else None
    except (httpx.HTTPError, ValueError) as exc:
        raise CallFailed(str(exc) or type(exc).__name__) from None
