"""`MockSender(handler)`: a sender that calls a function instead of the network, under
the attempt loop the real ones share (delivery/attempts.py: redirects as axios follows
them, the body cap, error classes), as httpx's `MockTransport` does for httpx. For tests
of code that delivers webhooks, and for handlers tested in-process (a test client as
the handler).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from nango_cli.delivery.attempts import (
    Answer,
    BodyCap,
    Failure,
    Outgoing,
    attempt_loop,
    classify_os_error,
    drive,
)
from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP, AttemptRecord


class MockRequest(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class MockResponse(NamedTuple):
    status: int = 200
    headers: Mapping[str, str] = MappingProxyType({})
    body: bytes = b""


Handler = Callable[[MockRequest], MockResponse]


class MockSender:
    """Each attempt calls `handler(request)`: return a MockResponse, or raise an OSError
    (ConnectionRefusedError, TimeoutError, …) to fail it as the network would."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[MockRequest] = []

    def close(self) -> None:
        pass

    def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
        response_cap: int = RESPONSE_BODY_CAP,
        method: str = "POST",
    ) -> AttemptRecord:
        def exchange(request: Outgoing) -> Answer | Failure:
            call = MockRequest(
                request.method, request.url, dict(request.headers), request.body or b""
            )
            self.requests.append(call)
            try:
                response = self.handler(call)
            except OSError as exc:
                found = classify_os_error(exc) or ("network", str(exc) or type(exc).__name__)
                return Failure(*found)
            cap = BodyCap(response_cap)
            cap.feed(response.body)
            return Answer(response.status, dict(response.headers), cap)

        return drive(attempt_loop(url, method, headers, body), exchange)
