"""Retry policies and the one retry loop every transport drives.

The loop is written once, as a generator of steps (`delivery_steps`): a driver
performs each `Send` and `Wait` (blocking for threads, awaiting for asyncio)
and feeds the attempt back. The loop never prints and never touches the store;
it reports every attempt through a callback before it waits.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from nango_cli.delivery.attempts import refused_attempt
from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.protocol import vocabulary

if TYPE_CHECKING:
    # Only a type here: the breaker is built where a plan needs one (app/plans.py).
    from nango_cli.delivery.breaker import CircuitBreaker

PolicyName = Literal["docs", "server", "none"]


# Network failures Nango's server retries (its list of Node.js error codes, by class).
RETRIABLE_NETWORK_ERRORS: Final = frozenset(
    {"reset", "timeout", "aborted", "refused", "unreachable", "dns"}
)


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
        policy = RetryPolicy("docs", vocabulary.RETRY_ATTEMPTS, 0.1, 0.1 * 2**20, True)
    elif name == "server":
        policy = RetryPolicy("server", vocabulary.RETRY_ATTEMPTS, 3.0, 600.0, False)
    elif name == "none":
        policy = RetryPolicy("none", 0, 0.0, 0.0, False)
    else:
        raise ValueError(f"unknown retry policy {name!r}")
    if retries is not None and name != "none":
        policy = RetryPolicy(
            policy.name, retries, policy.base_delay_s, policy.max_delay_s, policy.retry_any_failure
        )
    return policy


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
