"""The attempt contract every transport implements (the httpx sender used by fire,
replay, check and the listener; the aiohttp sender of load mode):

* the same request on the wire: `protocol.headers.wire_headers()` plus Host and
  Content-Length;
* redirects as axios follows them (`next_hop`): 301/302/303 continue as GET
  without a body, 307/308 keep method and body, at most MAX_REDIRECTS hops; a
  hop to another host, or from https to http, is followed and reported;
* one total deadline per attempt, covering connect, status line, headers
  (1xx included) and body;
* the first RESPONSE_BODY_CAP bytes of the response kept, with an honest
  `truncated` flag (`BodyCap`);
* failures named by one set of error classes (`ErrorClass`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Final, NamedTuple, cast
from urllib.parse import urljoin, urlsplit

from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP, AttemptRecord, ErrorClass
from nango_cli.protocol.headers import without
from nango_cli.support.timefmt import format_timestamp

MAX_REDIRECTS: Final = 5


# follow-redirects (axios) drops these when a redirect changes host.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


def headers_dict(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Response headers as one dict: a repeated header's values joined with ', '."""
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class Outgoing(NamedTuple):
    """One HTTP request of an attempt (the first, or a redirect hop)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class Hop(NamedTuple):
    request: Outgoing
    note: str | None  # set when the hop changes host or drops https


_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def location_of(headers: Mapping[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "location"), None)


def followed(status: int, headers: Mapping[str, str]) -> bool:
    """Whether the attempt loop follows this answer (a redirect status with a Location).
    A transport then leaves its body unread, as follow-redirects destroys such a
    response: a redirect that drips its body never holds the next hop up."""
    return status in _REDIRECTS and bool(location_of(headers))


def next_hop(request: Outgoing, status: int, location: str | None) -> Hop | None:
    """The request a redirect leads to, as axios (follow-redirects) makes it; None when
    `status` is not a redirect to follow."""
    if status not in _REDIRECTS or not location:
        return None
    url = urljoin(request.url, location.strip())
    old, new = urlsplit(request.url), urlsplit(url)
    method, body, headers = request.method, request.body, dict(request.headers)
    if status in (301, 302, 303) and method != "HEAD":
        # As browsers and axios do: the redirected request is a GET without a body.
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if not k.lower().startswith("content-")}
    notes = []
    if (new.hostname, new.port) != (old.hostname, old.port):
        notes.append(f"redirected to another host ({new.netloc})")
        headers = without(headers, _CREDENTIAL_HEADERS)
    if old.scheme == "https" and new.scheme == "http":
        notes.append("redirected from https to http")
    return Hop(Outgoing(method, url, headers, body), "; ".join(notes) or None)


class BodyCap:
    """Collects the first `cap` bytes of a response body and whether there was more."""

    def __init__(self, cap: int = RESPONSE_BODY_CAP) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; True once the cap is passed (stop reading)."""
        room = self.cap - self.size
        if len(chunk) > room:
            self.chunks.append(chunk[:room])
            self.size = self.cap
            self.truncated = True
            return True
        self.chunks.append(chunk)
        self.size += len(chunk)
        return False

    @property
    def content(self) -> bytes:
        return b"".join(self.chunks)


def now_iso() -> str:
    return format_timestamp(datetime.now(UTC))


def answered_attempt(
    url: str,
    started_at: str,
    start: float,
    status: int,
    headers: dict[str, str],
    body: BodyCap,
    hops: list[Hop],
) -> AttemptRecord:
    """An attempt that got an HTTP answer; `start` is its perf_counter() start."""
    return AttemptRecord(
        target=url,
        number=0,
        started_at=started_at,
        outcome="success" if 200 <= status < 300 else "http_error",
        status_code=status,
        latency_ms=round((time.perf_counter() - start) * 1000, 3),
        response_headers=headers,
        response_body=body.content,
        response_truncated=body.truncated,
        redirects=[h.request.url for h in hops],
        note="; ".join(h.note for h in hops if h.note) or None,
    )


def failed_attempt(
    url: str,
    started_at: str,
    start: float,
    error_class: ErrorClass,
    message: str,
    hops: list[Hop] | None = None,
) -> AttemptRecord:
    """An attempt that got no HTTP answer (network error, timeout, redirect loop)."""
    return AttemptRecord(
        target=url,
        number=0,
        started_at=started_at,
        outcome="network_error",
        latency_ms=round((time.perf_counter() - start) * 1000, 3),
        error_class=error_class,
        error=message,
        redirects=[h.request.url for h in hops or []],
        note="; ".join(h.note for h in hops or [] if h.note) or None,
    )


def refused_attempt(url: str, reason: str) -> AttemptRecord:
    """An attempt the circuit breaker failed without sending anything."""
    return AttemptRecord(
        target=url,
        number=0,
        started_at=now_iso(),
        outcome="network_error",
        latency_ms=0.0,
        error_class="circuit_breaker_open",
        error=reason,
    )


def classify_os_error(exc: BaseException) -> tuple[ErrorClass, str] | None:
    """An error class for an OS-level failure found in `exc`'s cause chain, or None."""
    import errno
    import socket
    import ssl

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return "tls", f"TLS certificate not trusted ({current.verify_message})"
        if isinstance(current, ssl.SSLError):
            return "tls", f"TLS error ({current.reason or current})"
        if isinstance(current, socket.gaierror):
            return "dns", "host name not found"
        if isinstance(current, ConnectionRefusedError):
            return "refused", "connection refused"
        if isinstance(current, ConnectionAbortedError):
            return "aborted", "connection aborted"
        if isinstance(current, ConnectionResetError | BrokenPipeError):
            return "reset", "connection reset"
        if isinstance(current, TimeoutError):
            return "timeout", "timed out"
        if isinstance(current, OSError) and current.errno in (
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        ):
            return "unreachable", "host unreachable"
        current = current.__cause__ or current.__context__
    return None


async def read_capped_async(chunks: AsyncIterator[bytes], cap: BodyCap) -> None:
    async for chunk in chunks:
        if cap.feed(chunk):
            return


# ---------------------------------------------------------------- the attempt loop


class Answer(NamedTuple):
    """What a transport got for one request: the status, the headers (joined by
    `headers_dict`) and the body read up to the cap (left unread when `followed`)."""

    status: int
    headers: dict[str, str]
    body: BodyCap


class Failure(NamedTuple):
    """A request that got no HTTP answer, classified by its transport."""

    error_class: ErrorClass
    message: str


Loop = Generator[Outgoing, Answer | Failure, AttemptRecord]


def attempt_loop(url: str, method: str, headers: Mapping[str, str], body: bytes | None) -> Loop:
    """One attempt, as every transport makes it: the one place that follows redirects,
    counts hops and says what the attempt was. It yields each request to send and is
    sent back its Answer or Failure; it returns the AttemptRecord. Transports (httpx's
    for fire, aiohttp's for load mode, the mock) make one network call per request and
    never decide any of this; `drive` and `drive_async` run the loop over them."""
    started, start = now_iso(), time.perf_counter()
    hops: list[Hop] = []
    request = Outgoing(method, url, dict(headers), body)
    while True:
        got = yield request
        if isinstance(got, Failure):
            return failed_attempt(url, started, start, got.error_class, got.message, hops)
        hop = next_hop(request, got.status, location_of(got.headers))
        if hop is None:
            return answered_attempt(url, started, start, got.status, got.headers, got.body, hops)
        if len(hops) >= MAX_REDIRECTS:
            message = f"more than {MAX_REDIRECTS} redirects"
            return failed_attempt(url, started, start, "redirects", message, hops)
        hops.append(hop)
        request = hop.request


def drive(loop: Loop, exchange: Callable[[Outgoing], Answer | Failure]) -> AttemptRecord:
    """Run the attempt loop over a transport's blocking `exchange`."""
    request = next(loop)
    while True:
        try:
            request = loop.send(exchange(request))
        except StopIteration as done:
            return cast(AttemptRecord, done.value)


async def drive_async(
    loop: Loop, exchange: Callable[[Outgoing], Awaitable[Answer | Failure]], timeout: float
) -> AttemptRecord:
    """Run the attempt loop over a transport's `exchange` coroutine, every request
    within one deadline of `timeout` seconds: past it, the attempt fails as a timeout
    (its hops so far kept)."""
    import asyncio  # here: the commands that send one webhook never load it

    request = next(loop)
    try:
        async with asyncio.timeout(timeout):
            while True:
                answer = await exchange(request)
                try:
                    request = loop.send(answer)
                except StopIteration as done:
                    return cast(AttemptRecord, done.value)
    except TimeoutError:
        try:
            loop.send(Failure("timeout", f"no complete response within {timeout:g}s"))
        except StopIteration as done:
            return cast(AttemptRecord, done.value)
        raise  # pragma: no cover - the loop always ends on a Failure
