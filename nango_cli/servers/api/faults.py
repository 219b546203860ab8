"""Faults the API stand-in plays on purpose, for scenarios and the test kit: the next
records requests fail as Nango's would, or answer late, or come in pages shorter than
`limit` that still carry a `next_cursor` (as Nango's response-size budget produces,
NangoHQ/nango#6187)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

# What Nango's server answers with each status it is asked to fail with.
_CODES = {
    400: ("invalid_request", "Invalid request"),
    401: ("unknown_account", "Authentication failed"),
    404: ("not_found", "Not found"),
    429: ("too_many_request", "Too many requests"),  # served by validation.rate_limited
    500: ("server_error", "Failed to fetch records"),
    502: ("server_error", "Bad gateway"),
    503: ("server_error", "Service unavailable"),
    504: ("server_error", "Gateway timeout"),
}


def error_for(status: int) -> tuple[str, str]:
    return _CODES.get(status, ("server_error", f"Failed with status {status}"))


@dataclass
class Faults:
    """Thread-safe: set from a test or a scenario while the server answers."""

    status: int | None = None
    status_times: int = 0
    latency: float = 0.0
    latency_times: int = 0
    # True: pages of a third of `limit`; a number: at most that many records a page
    # (a response-size budget cuts a page at any size).
    short_pages: bool | int = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self.status, self.status_times = status, times

    def delay(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self.latency, self.latency_times = seconds, times

    def set_short_pages(self, on: bool | int = True) -> None:
        with self._lock:
            self.short_pages = on

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self.status, self.status_times = None, 0
        self.latency, self.latency_times = 0.0, 0
        self.short_pages = False

    def apply(
        self,
        *,
        clear: bool = False,
        status: int | None = None,
        latency: float | None = None,
        short_pages: bool | int | None = None,
        times: int = 1,
    ) -> None:
        """One fault request at once (a scenario's `api_fault`, the internal endpoint):
        clear first when asked, then each part that is given."""
        with self._lock:
            if clear:
                self._clear()
            if status is not None:
                self.status, self.status_times = status, times
            if latency is not None:
                self.latency, self.latency_times = latency, times
            if short_pages is not None:
                self.short_pages = short_pages

    def take(self) -> tuple[int | None, float]:
        """For one records request: the status to fail it with (or None) and the
        latency to add (0 for none)."""
        with self._lock:
            status = None
            if self.status is not None and self.status_times > 0:
                status = self.status
                self.status_times -= 1
            latency = 0.0
            if self.latency_times > 0:
                latency = self.latency
                self.latency_times -= 1
            return status, latency

    def played(self, status: int | None, latency: float) -> str | None:
        """What a records request was given (`take`'s answer, and short pages), as the
        request log keeps it: JSON, or None when nothing was played."""
        parts: dict[str, Any] = {}
        if status is not None:
            parts["status"] = status
        if latency:
            parts["latency"] = latency
        if self.short_pages is not False:
            parts["short_pages"] = self.short_pages
        return json.dumps(parts, separators=(",", ":")) if parts else None

    def page_limit(self, limit: int) -> int:
        """The page size to serve for `limit`: a third of it with short pages, or at
        most the budget they name."""
        short = self.short_pages
        if short is True:
            return max(1, limit // 3)
        if short is False or short <= 0:
            return limit
        return max(1, min(limit, short))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "times": self.status_times,
            "latency": self.latency,
            "latency_times": self.latency_times,
            "short_pages": self.short_pages,
        }
