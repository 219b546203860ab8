"""Delivery: retry policies, Nango's circuit breaker, and the attempt contract.

Every transport (the httpx sender used by fire, replay, check and the
listener; the aiohttp runner of load mode) implements the same contract,
defined here once:

* the same request on the wire: `wire_headers()` plus Host and Content-Length;
* redirects as axios follows them (`next_hop`): 301/302/303 continue as GET
  without a body, 307/308 keep method and body, at most MAX_REDIRECTS hops; a
  hop to another host, or from https to http, is followed and reported;
* one total deadline per attempt, covering connect, status line, headers
  (1xx included) and body;
* the first RESPONSE_BODY_CAP bytes of the response kept, with an honest
  `truncated` flag (`BodyCap`);
* failures named by one set of error classes (`ErrorClass`).

The retry loop is written once, as a generator of steps (`delivery_steps`):
a driver performs each `Send` and `Wait` (blocking for threads, awaiting for
asyncio) and feeds the attempt back. The loop never prints and never touches
the store; it reports every attempt through a callback before it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple, get_args
from urllib.parse import urljoin, urlsplit

from nango_cli import nango
from nango_cli.payloads import format_timestamp
from nango_cli.store import RESPONSE_BODY_CAP, AttemptRecord, ErrorClass

PolicyName = Literal["docs", "server", "none"]
POLICY_NAMES: Final = get_args(PolicyName)
MAX_REDIRECTS: Final = 5
ERROR_CLASSES: Final = get_args(ErrorClass)

# Headers that describe one hop of a request, not the webhook: never replayed or
# proxied as they were (the sender computes its own).
HOP_BY_HOP: Final = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "expect",
        "proxy-connection",
    }
)
# Network failures Nango's server retries (its list of Node.js error codes, by class).
RETRIABLE_NETWORK_ERRORS: Final = frozenset(
    {"reset", "timeout", "aborted", "refused", "unreachable", "dns"}
)
# follow-redirects (axios) drops these when a redirect changes host.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


def wire_headers() -> dict[str, str]:
    """The headers Nango's server sends with every webhook, besides the signatures."""
    return {
        "accept": nango.ACCEPT,
        "content-type": "application/json",
        "user-agent": nango.USER_AGENT,
        "accept-encoding": nango.ACCEPT_ENCODING,
        "connection": nango.CONNECTION,
    }


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Merge header layers, later ones winning, with names compared case-insensitively
    (as axios does): `X-Nango-Hmac-Sha256: spoofed` from an external webhook cannot
    sit beside the real signature. The winning layer's spelling of a name is kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def without(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def check_header_values(headers: Mapping[str, str]) -> str | None:
    """Why these headers cannot be sent, or None. Values must be printable Latin-1 (what
    Node.js, and so Nango, accepts); names must be HTTP tokens."""
    for name, value in headers.items():
        if not name or any(c in '()<>@,;:\\"/[]?={} \t' or not 32 < ord(c) < 127 for c in name):
            return f"header name {name!r} is not a valid HTTP token"
        if any(not (ord(c) == 9 or 32 <= ord(c) <= 126 or 128 <= ord(c) <= 255) for c in value):
            return f"header {name!r} has a value with characters HTTP cannot carry"
    return None


def headers_dict(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Response headers as one dict: a repeated header's values joined with ', '."""
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


# ---------------------------------------------------------------- retry policies


class RetryPolicy(NamedTuple):
    """When to retry and how long to wait (docs/protocol.md, Retries)."""

    name: PolicyName
    retries: int
    base_delay_s: float
    max_delay_s: float
    retry_any_failure: bool

    def delay(self, retry_index: int) -> float:
        """Wait before retry number `retry_index` (0 for the first retry)."""
        return float(min(self.base_delay_s * 2**retry_index, self.max_delay_s))

    def wants_retry(self, attempt: AttemptRecord) -> tuple[bool, str]:
        """Whether this policy retries after `attempt`, and why (in words)."""
        if attempt.outcome == "success":
            return False, "delivered"
        if attempt.error_class == "circuit_breaker_open":
            return False, "the circuit breaker is open: Nango does not retry"
        if self.name == "none":
            return False, "policy none never retries"
        if self.retry_any_failure:
            return True, "docs policy retries any non-2xx or network error"
        if attempt.outcome == "network_error":
            if attempt.error_class in RETRIABLE_NETWORK_ERRORS:
                return True, f"server policy retries network errors ({attempt.error_class})"
            return False, f"server policy does not retry {attempt.error_class} errors"
        code = attempt.status_code or 0
        if code >= 500:
            return True, "server policy retries 5xx"
        return False, f"server policy does not retry {code} (only 5xx and network errors)"

    def decide(self, attempt: AttemptRecord, number: int) -> str:
        """Number `attempt`, mark whether and when it is retried; returns the reason."""
        attempt.number = number
        retry, reason = self.wants_retry(attempt)
        if retry and number > self.retries:
            retry = False
            reason = f"gave up after {number} attempt{'s' if number > 1 else ''}"
        if retry:
            attempt.will_retry = True
            attempt.wait_s = self.delay(number - 1)
        return reason


def make_policy(name: str, retries: int | None = None) -> RetryPolicy:
    if name == "docs":
        policy = RetryPolicy("docs", nango.RETRY_ATTEMPTS, 0.1, 0.1 * 2**20, True)
    elif name == "server":
        policy = RetryPolicy("server", nango.RETRY_ATTEMPTS, 3.0, 600.0, False)
    elif name == "none":
        policy = RetryPolicy("none", 0, 0.0, 0.0, False)
    else:
        raise ValueError(f"unknown retry policy {name!r}")
    if retries is not None and name != "none":
        policy = RetryPolicy(
            policy.name, retries, policy.base_delay_s, policy.max_delay_s, policy.retry_any_failure
        )
    return policy


# ---------------------------------------------------------------- circuit breaker


@dataclass
class _Circuit:
    failures: int = 0
    window_start: float = 0.0
    state: Literal["closed", "open", "half_open"] = "closed"
    until: float = 0.0


@dataclass
class CircuitBreaker:
    """Nango's per-URL circuit breaker (packages/webhooks, NANGO_WEBHOOK_CIRCUIT_BREAKER_*).

    Failures (any attempt without a 2xx) are counted in a fixed window that
    starts at the first failure; the failure that goes past `threshold` within
    `window_s` opens the circuit for `cooldown_s`. While open, deliveries fail
    at once without a request and are not retried. After the cooldown one
    attempt probes (half-open): a success closes the circuit, a failure opens
    it again. State lives for one command run (Nango keeps it in Redis).
    Thread-safe: a sync's per-model webhooks share it.
    """

    threshold: int = nango.BREAKER_FAILURE_THRESHOLD
    window_s: float = nango.BREAKER_WINDOW_S
    cooldown_s: float = nango.BREAKER_COOLDOWN_S
    clock: Callable[[], float] = time.monotonic
    _circuits: dict[str, _Circuit] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refusal(self, url: str) -> str | None:
        """Why a delivery to `url` must fail now without a request, or None to go ahead."""
        with self._lock:
            circuit = self._circuits.get(url)
            if circuit is None or circuit.state == "closed":
                return None
            now = self.clock()
            if now < circuit.until:
                left = circuit.until - now
                state = "open" if circuit.state == "open" else "half-open (a probe is out)"
                return f"circuit breaker {state} for {url}: fails without a request for {left:.0f}s"
            circuit.state = "half_open"  # this attempt is the probe
            circuit.until = now + self.cooldown_s
            return None

    def record(self, url: str, success: bool) -> bool:
        """Count an attempt's result; True when this failure opened the circuit."""
        with self._lock:
            circuit = self._circuits.setdefault(url, _Circuit())
            now = self.clock()
            if success:
                # Only a successful probe resets the count, as in Nango (its rate
                # limiter keeps counting failures around successes while closed).
                if circuit.state == "half_open":
                    self._circuits.pop(url, None)
                return False
            if circuit.state == "half_open":
                circuit.state, circuit.until = "open", now + self.cooldown_s
                return True
            if circuit.failures == 0 or now - circuit.window_start >= self.window_s:
                circuit.failures, circuit.window_start = 0, now
            circuit.failures += 1
            if circuit.failures > self.threshold and circuit.state == "closed":
                circuit.state, circuit.until = "open", now + self.cooldown_s
                return True
            return False


# ---------------------------------------------------------------- the attempt contract


class Outgoing(NamedTuple):
    """One HTTP request of an attempt (the first, or a redirect hop)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class Hop(NamedTuple):
    request: Outgoing
    note: str | None  # set when the hop changes host or drops https


class TooManyRedirects(Exception):
    pass


def next_hop(request: Outgoing, status: int, location: str | None) -> Hop | None:
    """The request a redirect leads to, as axios (follow-redirects) makes it; None when
    `status` is not a redirect to follow."""
    if status not in (301, 302, 303, 307, 308) or not location:
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


# ---------------------------------------------------------------- the retry loop


class Send(NamedTuple):
    target: str


class Wait(NamedTuple):
    seconds: float


Step = Send | Wait
AttemptCallback = Callable[[AttemptRecord, str], None]


@dataclass
class TargetResult:
    target: str
    attempts: list[AttemptRecord] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].outcome == "success"


@dataclass
class DeliveryResult:
    targets: list[TargetResult]

    @property
    def delivered(self) -> bool:
        return all(t.delivered for t in self.targets)

    @property
    def attempts(self) -> list[AttemptRecord]:
        return [a for t in self.targets for a in t.attempts]


def delivery_steps(
    targets: list[str],
    policy: RetryPolicy,
    on_attempt: AttemptCallback,
    breaker: CircuitBreaker | None = None,
) -> Generator[Step, AttemptRecord | None, DeliveryResult]:
    """The one retry loop: each target in order (primary, then secondary), each with its
    own retries. Yields `Send(target)` (answered with the attempt) and `Wait(seconds)`."""
    results: list[TargetResult] = []
    for target in targets:
        result = TargetResult(target)
        results.append(result)
        number = 1
        while True:
            refusal = breaker.refusal(target) if breaker else None
            if refusal is not None:
                attempt = refused_attempt(target, refusal)
            else:
                sent = yield Send(target)
                assert sent is not None
                attempt = sent
                if breaker is not None and breaker.record(target, attempt.outcome == "success"):
                    attempt.note = _join(attempt.note, "this failure opened the circuit breaker")
            reason = policy.decide(attempt, number)
            result.attempts.append(attempt)
            on_attempt(attempt, reason)
            if not attempt.will_retry:
                break
            yield Wait(attempt.wait_s or 0.0)
            number += 1
    return DeliveryResult(results)


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def run_steps(
    steps: Generator[Step, AttemptRecord | None, DeliveryResult],
    send: Callable[[str], AttemptRecord],
    sleep: Callable[[float], Any] = time.sleep,
) -> DeliveryResult:
    """Drive the retry loop with blocking calls (the httpx sender, in threads)."""
    try:
        step = next(steps)
        while True:
            if isinstance(step, Send):
                step = steps.send(send(step.target))
            else:
                sleep(step.seconds)
                step = steps.send(None)
    except StopIteration as stop:
        result: DeliveryResult = stop.value
        return result


async def run_steps_async(
    steps: Generator[Step, AttemptRecord | None, DeliveryResult],
    send: Callable[[str], Awaitable[AttemptRecord]],
    sleep: Callable[[float], Awaitable[Any]],
) -> DeliveryResult:
    """Drive the retry loop on an event loop (the aiohttp load runner)."""
    try:
        step = next(steps)
        while True:
            if isinstance(step, Send):
                step = steps.send(await send(step.target))
            else:
                await sleep(step.seconds)
                step = steps.send(None)
    except StopIteration as stop:
        result: DeliveryResult = stop.value
        return result


async def read_capped_async(chunks: AsyncIterator[bytes], cap: BodyCap) -> None:
    async for chunk in chunks:
        if cap.feed(chunk):
            return
