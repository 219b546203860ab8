"""Nango's per-URL circuit breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from nango_cli.protocol import vocabulary


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

    threshold: int = vocabulary.BREAKER_FAILURE_THRESHOLD
    window_s: float = vocabulary.BREAKER_WINDOW_S
    cooldown_s: float = vocabulary.BREAKER_COOLDOWN_S
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
