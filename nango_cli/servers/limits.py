"""The limits every local server holds, whatever a client does (docs/security.md).

- beyond `max_connections` a connection is answered 503 at once and closed, before
  a byte is read (`Refuse`); the soft open-files limit is raised to the hard one at
  start so the cap fits (`raise_fd_limit`);
- a connection idle, or still sending its headers, for `idle_timeout` is closed;
- a body must arrive within `body_timeout` (408), be at most `max_body` (413, not
  read), and bodies being read at once share `body_budget` bytes (503 with
  Retry-After past it), so slow senders cannot pin the server's memory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aiohttp import web

DEFAULT_MAX_BODY = 5 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_BODY_BUDGET = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 30.0
# File descriptors kept free beyond the connections: for the store, pipes, and a burst
# of accepts (asyncio accepts up to `backlog` connections at once, each taking a
# descriptor before it can be refused).
FD_RESERVE = 64
MAX_BACKLOG = 1024


@dataclass
class Limits:
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    idle_timeout: float = IDLE_TIMEOUT_S
    body_timeout: float = BODY_TIMEOUT_S
    max_body: int = DEFAULT_MAX_BODY
    body_budget: int = DEFAULT_BODY_BUDGET


class BodyRefused(Exception):
    """A body the server will not read: answered with `status` (and Retry-After when
    `retry_after`), with one notice of `kind`."""

    def __init__(
        self, status: int, message: str, kind: str, notice: str, retry_after: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.notice = notice
        self.retry_after = retry_after


class BodyBudget:
    """Bytes of request bodies being read at once, across every connection."""

    def __init__(self, total: int) -> None:
        self.left = total

    def reserve(self, size: int) -> int:
        if size > self.left:
            raise BodyRefused(
                503,
                "too many bodies in flight; retry shortly",
                "busy",
                "bodies in flight over the body budget: answered 503",
                retry_after=True,
            )
        self.left -= size
        return size

    def release(self, size: int) -> None:
        self.left += size


async def read_body(
    request: web.BaseRequest, limits: Limits, budget: BodyBudget, max_body: int | None = None
) -> tuple[bytes, int]:
    """The request's body within the limits, and the budget it holds (to release once
    the request is answered). Raises BodyRefused."""
    cap = limits.max_body if max_body is None else max_body
    length = request.content_length
    if length is not None and length > cap:
        raise BodyRefused(
            413,
            f"body larger than {cap} bytes",
            "too-large",
            f"a {length}-byte body (over the {cap}-byte limit): answered 413, not read",
        )
    reserved = 0
    try:
        if length is not None:
            reserved = budget.reserve(length)
            # Most bodies arrived with the headers: take them without arming a timer.
            body = request.content.read_nowait(length)
            if len(body) < length:
                async with asyncio.timeout(limits.body_timeout):
                    body += await request.content.readexactly(length - len(body))
            return body, reserved
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(limits.body_timeout):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise BodyRefused(
                        413,
                        f"body larger than {cap} bytes",
                        "too-large",
                        f"a chunked body over the {cap}-byte limit: answered 413",
                    )
                reserved += budget.reserve(len(chunk))
                chunks.append(chunk)
        return b"".join(chunks), reserved
    except TimeoutError:
        budget.release(reserved)
        raise BodyRefused(
            408,
            "the body did not arrive in time",
            "timeout",
            f"a body not sent within {limits.body_timeout:g}s: answered 408",
        ) from None
    except asyncio.IncompleteReadError:
        budget.release(reserved)
        raise BodyRefused(400, "incomplete body", "malformed", "an incomplete body") from None
    except BaseException:
        budget.release(reserved)
        raise


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the soft limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


def connection_plan(wanted: int) -> tuple[int, int]:
    """(max connections, listen backlog) that fit the open-files limit, raised first.

    A burst of accepts must fit in the descriptors kept free, beside the process's own
    (~32) and the refused sockets of the previous burst, which close a loop turn later:
    then accepting never fails with "too many open files" (after which asyncio stops
    accepting for a second)."""
    files_limit = raise_fd_limit()
    cap = max(1, min(wanted, files_limit - FD_RESERVE))
    spare = files_limit - cap - 32
    return cap, max(8, min(MAX_BACKLOG, spare // 2))


REFUSAL_BODY = b'{"error": "too many connections; retry soon"}'
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: "
    + str(len(REFUSAL_BODY)).encode()
    + b"\r\n\r\n"
    + REFUSAL_BODY
)


class Refuse(asyncio.Protocol):
    """A connection over the cap: answered 503 at once and closed, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: duck-typed.
        writable = cast(asyncio.WriteTransport, transport)
        writable.write(REFUSAL)
        writable.close()


class Counted(asyncio.Protocol):
    """aiohttp's connection handler, passed every call, so the server knows when a
    connection it counted is gone (aiohttp's own list is updated a loop turn later,
    and a burst of connections would all pass the check)."""

    __slots__ = ("inner", "on_lost")

    def __init__(self, inner: Any, on_lost: Any) -> None:
        self.inner = inner
        self.on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
