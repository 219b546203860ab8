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
from typing import TYPE_CHECKING, Any

from nango_cli.payloads import format_timestamp
from nango_cli.store import RESPONSE_BODY_CAP, AttemptRecord

if TYPE_CHECKING:
    import httpx

NANGO_VERSION = "0.71.0"
USER_AGENT = f"nango/{NANGO_VERSION} (linux/6.8.0; node.js/20.18.0)"
MAX_REDIRECTS = 5
# Network failures Nango's server retries (its list of Node error codes, by class).
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


def _classify(exc: Exception) -> tuple[str, str]:
    """(error_class, message) for an httpx transport error, named like Node's error codes."""
    import httpx

    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirects", f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in lowered:
            return "refused", "connection refused"
        if "name or service" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
            return "dns", "host name not found"
        if "unreachable" in lowered:
            return "unreachable", "host unreachable"
        if "reset" in lowered:
            return "reset", "connection reset"
        return "connect", text
    if isinstance(exc, httpx.RemoteProtocolError):
        if "disconnected" in lowered or "reset" in lowered or "closed" in lowered:
            return "reset", "connection closed before a response"
        return "protocol", f"invalid HTTP response ({text})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "reset", "connection reset"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "url", text
    return "network", text


class DeadlineExceeded(Exception):
    pass


class Sender:
    """One HTTP client shared by every delivery of a process (thread-safe)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        if client is None:
            import httpx

            client = httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                trust_env=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
        self.client = client

    def close(self) -> None:
        self.client.close()

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AttemptRecord:
        import httpx

        started = format_timestamp(datetime.now(UTC))
        start = time.perf_counter()
        try:
            with self.client.stream(
                "POST", url, content=body, headers=dict(headers), timeout=httpx.Timeout(timeout)
            ) as response:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                # A total deadline: per-read timeouts alone let a drip-feeding server
                # hold the attempt open indefinitely.
                for chunk in response.iter_raw():
                    if time.perf_counter() - start > timeout:
                        raise DeadlineExceeded
                    if size + len(chunk) > RESPONSE_BODY_CAP:
                        chunks.append(chunk[: RESPONSE_BODY_CAP - size])
                        truncated = True
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                latency = (time.perf_counter() - start) * 1000
                ok = 200 <= response.status_code < 300
                return AttemptRecord(
                    target=url,
                    number=0,
                    started_at=started,
                    outcome="success" if ok else "http_error",
                    status_code=response.status_code,
                    latency_ms=round(latency, 3),
                    response_headers=dict(response.headers.items()),
                    response_body=b"".join(chunks),
                    response_truncated=truncated,
                )
        except DeadlineExceeded:
            error_class, message = "timeout", f"no complete response within {timeout:g}s"
        except httpx.HTTPError as exc:
            error_class, message = _classify(exc)
        latency = (time.perf_counter() - start) * 1000
        return AttemptRecord(
            target=url,
            number=0,
            started_at=started,
            outcome="network_error",
            latency_ms=round(latency, 3),
            error_class=error_class,
            error=message,
        )


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
            attempt.number = number
            retry, reason = policy.wants_retry(attempt)
            if retry and number > policy.retries:
                retry = False
                reason = f"gave up after {number} attempt{'s' if number > 1 else ''}"
            if retry:
                attempt.will_retry = True
                attempt.wait_s = policy.delay(number - 1)
            result.attempts.append(attempt)
            on_attempt(attempt, reason)
            if not retry:
                break
            sleep(attempt.wait_s or 0.0)
            number += 1
    return DeliveryResult(results)
