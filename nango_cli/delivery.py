"""Retry policies and the delivery engine.

The engine POSTs one body to each target in turn (primary, then secondary),
retrying per policy, and reports every attempt through a callback *before*
it waits or moves on, so the caller can record and render it as it happens.
It never prints and never touches the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nango_cli.payloads import format_timestamp
from nango_cli.store import RESPONSE_BODY_CAP, AttemptRecord

NANGO_VERSION = "0.71.0"
USER_AGENT = f"nango/{NANGO_VERSION} (linux/6.8.0; node.js/20.18.0)"
MAX_REDIRECTS = 5
# Network failures Nango's server retries (its list of Node error codes, by class).
# Headers that describe one hop of a request, not the webhook: never replayed or proxied.
HOP_BY_HOP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "expect",
        "accept-encoding",
        "proxy-connection",
    }
)
RETRIABLE_NETWORK_ERRORS = frozenset(
    {"reset", "timeout", "aborted", "refused", "unreachable", "dns"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait; see shared/nango-webhooks.md, section 5."""

    name: str
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
        policy = RetryPolicy("docs", 2, 0.1, 0.1 * 2**20, True)
    elif name == "server":
        policy = RetryPolicy("server", 2, 3.0, 600.0, False)
    elif name == "none":
        policy = RetryPolicy("none", 0, 0.0, 0.0, False)
    else:
        raise ValueError(f"unknown retry policy {name!r}")
    if retries is not None and name != "none":
        policy = RetryPolicy(
            policy.name, retries, policy.base_delay_s, policy.max_delay_s, policy.retry_any_failure
        )
    return policy


def base_headers(user_agent: str = USER_AGENT) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "accept": "application/json, text/plain, */*",
        "user-agent": user_agent,
    }


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


def classify_error(exc: BaseException) -> tuple[str, str]:
    """(error_class, message) for a transport error, named like Node's error codes."""
    import errno
    import http.client
    import socket
    import ssl

    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(exc, ConnectionAbortedError):
        return "aborted", "connection aborted"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return "reset", "connection reset or closed before a response"
    if isinstance(exc, socket.gaierror):
        return "dns", "host name not found"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS error ({exc.reason or exc})"
    if isinstance(exc, http.client.InvalidURL):
        return "url", str(exc)
    if isinstance(exc, http.client.HTTPException):
        return "protocol", f"invalid HTTP response ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable", "host unreachable"
    return "network", str(exc) or type(exc).__name__


def answered_attempt(
    url: str,
    started_at: str,
    start: float,
    status: int,
    headers: dict[str, str],
    content: bytes,
    truncated: bool = False,
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
        response_body=content,
        response_truncated=truncated,
    )


def failed_attempt(
    url: str, started_at: str, start: float, error_class: str, message: str
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
    )


class _Deadline(Exception):
    pass


class _TooManyRedirects(Exception):
    pass


class Sender:
    """POSTs one webhook, as one attempt, with the standard library's http.client.

    Chosen over httpx for the per-webhook path by measurement: importing httpx
    costs ~60 ms, a quarter of a whole `fire` run (see README, Performance).
    One connection per attempt, so a retry never reuses a connection the
    receiver may have closed; thread-safe (no shared state).
    """

    def close(self) -> None:
        """Nothing is pooled; kept so callers can treat senders alike."""

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AttemptRecord:
        started = format_timestamp(datetime.now(UTC))
        start = time.perf_counter()
        try:
            status, response_headers, content, truncated = self._post(
                url, body, dict(headers), start + timeout
            )
        except _Deadline:
            error_class, message = "timeout", f"no complete response within {timeout:g}s"
        except _TooManyRedirects:
            error_class, message = "redirects", f"more than {MAX_REDIRECTS} redirects"
        except (OSError, ValueError) as exc:
            error_class, message = classify_error(exc)
        except Exception as exc:  # http.client raises HTTPException subclasses too
            error_class, message = classify_error(exc)
        else:
            return answered_attempt(
                url, started, start, status, response_headers, content, truncated
            )
        return failed_attempt(url, started, start, error_class, message)

    def _post(
        self, url: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[int, dict[str, str], bytes, bool]:
        import http.client
        from urllib.parse import urljoin, urlsplit

        method: str = "POST"
        payload: bytes | None = body
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise _Deadline
            connection_class = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise http.client.InvalidURL(f"cannot send to {url!r}")
            conn = connection_class(parts.hostname, parts.port, timeout=remaining)
            try:
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                status = response.status
                response_headers = dict(response.getheaders())
                location = response.getheader("location")
                if status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    if status in (301, 302, 303):
                        # As browsers, and the axios Nango uses: the redirected request is a GET.
                        method, payload = "GET", None
                        headers = {
                            k: v for k, v in headers.items() if not k.lower().startswith("content-")
                        }
                    continue
                content, truncated = self._read(conn, response, deadline)
                return status, response_headers, content, truncated
            finally:
                conn.close()
        raise _TooManyRedirects

    @staticmethod
    def _read(conn: Any, response: Any, deadline: float) -> tuple[bytes, bool]:
        """Read up to the cap, checking a total deadline between reads: per-read
        timeouts alone let a drip-feeding server hold the attempt open indefinitely."""
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise _Deadline
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = response.read1(64 * 1024)
            if not chunk:
                return b"".join(chunks), False
            if size + len(chunk) > RESPONSE_BODY_CAP:
                chunks.append(chunk[: RESPONSE_BODY_CAP - size])
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)


AttemptCallback = Callable[[AttemptRecord, str], None]


def deliver(
    body: bytes,
    headers: Mapping[str, str],
    targets: list[str],
    policy: RetryPolicy,
    timeout: float,
    sender: Sender,
    on_attempt: AttemptCallback,
    sleep: Callable[[float], Any] = time.sleep,
) -> DeliveryResult:
    """Deliver to each target in order, each with its own retries.

    `on_attempt(attempt, reason)` runs after every attempt, before any wait.
    """
    results: list[TargetResult] = []
    for target in targets:
        result = TargetResult(target)
        results.append(result)
        number = 1
        while True:
            attempt = sender.send(target, body, headers, timeout)
            reason = policy.decide(attempt, number)
            result.attempts.append(attempt)
            on_attempt(attempt, reason)
            if not attempt.will_retry:
                break
            sleep(attempt.wait_s or 0.0)
            number += 1
    return DeliveryResult(results)
