"""The one skeleton of every local server (`listen`, `api`, `ui`).

A server built on it gets, without writing any of it again:

- binding, with one clear error when the port is taken (binding.py);
- the limits of limits.py: a connection cap answered 503 on any event loop, idle and
  header deadlines, a per-request body cap and a body budget shared by all
  connections, the open-files limit raised to fit;
- a Host check: a request whose `Host` is not this server's own address (a loopback
  name or IP with the bound port, an IP literal when bound to every interface, or a
  name the user allowed) is refused with 421, so a DNS-rebinding web page cannot
  talk to it;
- one notice line per malformed request, failed accept or unexpected fault, never a
  traceback (whose locals or messages could carry a secret key); notices of one kind
  are rate-limited to one a second ("and N more");
- errors in the server's own JSON shape, never a 5xx for a client's mistake;
- start / stop / run until stopped; servers/threaded.py runs one in a thread.

A subclass adds its routes (`routes`), its error shape (`error_response`), and what
happens around start and close (`started`, `closing`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web as _web

from nango_cli.errors import NangoHooksError, NotFoundError
from nango_cli.servers.binding import bind
from nango_cli.servers.limits import (
    BodyBudget,
    BodyRefused,
    Counted,
    Limits,
    Refuse,
    connection_plan,
    read_body,
)

if TYPE_CHECKING:
    from aiohttp import web

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


# Where a guarded server's routes find the request's body, read within the limits
# before they run (aiohttp 3.12+ types request keys; made at import, as it requires).
_typed_key: Any = getattr(_web, "RequestKey", None)
BODY_KEY: Any = _typed_key("nango_hooks_body", bytes) if _typed_key else "nango_hooks_body"


def request_body(request: web.BaseRequest) -> bytes:
    body: bytes = request.get(BODY_KEY, b"")
    return body


class Notice(NamedTuple):
    """Something a server refused or noticed, other than what it serves."""

    # refused, busy, too-large, timeout, malformed, host, store, loop, error
    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


def is_loopback(host: str) -> bool:
    from nango_cli.delivery.transport import is_loopback_host

    return is_loopback_host(host)


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


# How long requests in flight may take to finish once a server is told to stop.
SHUTDOWN_GRACE_S = 5.0
# Stops a server decides itself (a count reached, its own timeout): nobody waits on a
# terminal, so no "waiting for requests" notice.
_SELF_DECIDED = frozenset({"count", "timeout", "invalid-signature"})


class LocalServer:
    """A local HTTP server on aiohttp, with the limits and manners described above."""

    # What the server is called in its notices and refusals.
    name = "server"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        on_notice: Callable[[Notice], None] | None = None,
        allowed_hosts: tuple[str, ...] = (),
        port_flag: str = "--port",
        client_max_size: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.on_notice = on_notice or (lambda notice: None)
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts)
        self.port_flag = port_flag
        self.client_max_size = client_max_size or self.limits.max_body
        self.url = ""
        self.bound_port = 0
        # How long it serves at most, unless its caller says (listen --timeout).
        self.timeout: float | None = None
        self.notices: dict[str, int] = {}
        self.budget = BodyBudget(self.limits.body_budget)
        self._notice_state: dict[str, tuple[float, int]] = {}
        self._open = 0
        self._runner: Any = None
        self._server: Any = None
        self._stopped: asyncio.Event | None = None
        # Set when the server starts closing: long-lived answers (the inspector's live
        # feed) end at once instead of holding the shutdown for the grace period.
        self.closing_now: asyncio.Event | None = None
        self.stop_reason = "stopped"
        # A stop asked for before the server started (Ctrl-C during start-up): it
        # serves nothing and closes as soon as it is up.
        self._stop_early: str | None = None

    # ------------------------------------------------------------ for subclasses

    def routes(self, app: web.Application) -> None:
        """Add the server's routes to `app`."""
        raise NotImplementedError

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        """A refusal or failure, in the server's JSON shape (listen and ui: `{"error":
        message}`; api overrides with Nango's)."""
        from aiohttp import web

        return web.json_response({"error": message}, status=status)

    async def started(self) -> None:
        """Called once bound, before the server is announced."""

    async def closing(self) -> None:
        """Called after the server stopped accepting and in-flight requests finished."""

    def guarded(self) -> bool:
        """Whether the Host check and error shaping run as middleware on every route.
        A server with one route may do them inline instead (the listener, for speed)."""
        return True

    # ------------------------------------------------------------ notices

    def notice(self, kind: str, message: str) -> None:
        """Count it; report it unless the same kind was reported less than a second ago
        (then the next report says how many were not), so a flood is a few lines."""
        self.notices[kind] = self.notices.get(kind, 0) + 1
        now = time.monotonic()
        last, held = self._notice_state.get(kind, (0.0, 0))
        if now - last < 1.0:
            self._notice_state[kind] = (last, held + 1)
            return
        self._notice_state[kind] = (now, 0)
        if held:
            message += f" (and {held} more like it in the last second)"
        self.on_notice(Notice(kind, message))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Bind and serve; returns the base URL (with the port chosen when 0)."""
        from aiohttp import web

        self._stopped = asyncio.Event()
        if self._stop_early is not None:
            self.stop_reason = self._stop_early
            self._stopped.set()
        self.closing_now = asyncio.Event()
        cap, backlog = connection_plan(self.limits.max_connections)
        self.limits.max_connections = cap
        middlewares = [self._guard_middleware()] if self.guarded() else []
        app = web.Application(client_max_size=self.client_max_size, middlewares=middlewares)
        self.routes(app)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE_S,
            # Also how long a new connection may take to send its headers.
            keepalive_timeout=self.limits.idle_timeout,
            # Bodies are kept as received (the listener stores and verifies those bytes).
            auto_decompress=False,
            logger=_NoticeLogger(self),
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(self._loop_exception)
        handler = self._runner.server
        assert handler is not None

        def protocol() -> asyncio.BaseProtocol:
            if self._open >= self.limits.max_connections:
                self.notice(
                    "refused",
                    f"over {self.limits.max_connections} connections: answered 503, closed",
                )
                return Refuse()
            self._open += 1
            return Counted(handler(), self._lost)

        self._server, base = await bind(
            protocol,
            self._runner,
            self.host,
            self.port,
            self.port_flag,
            backlog=backlog,
            reuse_address=True,
        )
        self.bound_port = self._server.sockets[0].getsockname()[1]
        self.url = base
        await self.started()
        return base

    def _requests_in_flight(self) -> int:
        """Requests being answered now (aiohttp's handlers say so; idle keep-alive
        connections are closed at once and are not counted)."""
        server = self._runner.server if self._runner is not None else None
        if server is None:
            return 0
        return sum(1 for h in server.connections if getattr(h, "_request_in_progress", True))

    def _lost(self) -> None:
        self._open -= 1

    async def close(self) -> None:
        """Stop accepting, let in-flight requests finish (saying so when some are
        open: a second Ctrl-C ends them at once), then `closing`."""
        if self.closing_now is not None:
            self.closing_now.set()
        if self._server is not None:
            self._server.close()
        held = self._requests_in_flight()
        if held and self.stop_reason not in _SELF_DECIDED:
            self.notice(
                "stopping",
                f"stopping the {self.name}: waiting up to {SHUTDOWN_GRACE_S:g}s for "
                f"{held} request(s) still being answered (Ctrl-C again to stop now)",
            )
        if self._runner is not None:
            await self._runner.cleanup()
        await self.closing()

    def stop(self, reason: str = "stopped") -> None:
        if self._stopped is None:
            self._stop_early = reason
        elif not self._stopped.is_set():
            self.stop_reason = reason
            self._stopped.set()

    @property
    def stop_requested(self) -> bool:
        """Whether `stop` was called (before the start included)."""
        return self._stop_early is not None or bool(self._stopped and self._stopped.is_set())

    async def wait_stopped(self, timeout: float | None = None) -> None:
        assert self._stopped is not None
        if timeout is None:
            await self._stopped.wait()
            return
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except TimeoutError:
            self.stop("timeout")

    def outcome(self) -> Any:
        """What serving came to, once closed (the API: requests served; the listener:
        its summary)."""
        return None

    async def run(
        self, on_ready: Callable[[str], None] | None = None, timeout: float | None = None
    ) -> Any:
        """Serve alone, with the one lifecycle (lifecycle.py), announced nowhere; the
        outcome once stopped."""
        from nango_cli.servers import lifecycle

        def ready(urls: list[str]) -> None:
            if on_ready is not None:
                on_ready(urls[0])

        return await lifecycle.serve([lifecycle.Unit(self)], ready, timeout=timeout)

    # ------------------------------------------------------------ requests

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's Host names this server (see the module's docstring)."""
        if not host_header:
            return False
        host = host_header.strip().lower()
        if host in self.allowed_hosts:  # allowed with its port: a tunnel's public address
            return True
        name, port = _split_host(host)
        if port is not None and port != self.bound_port:
            return False
        if name in LOOPBACK_NAMES or name.endswith(".localhost") or name == "localhost":
            return True
        if name in self.allowed_hosts or host in self.allowed_hosts:
            return True
        bound = self.host.lower()
        if name == bound or name == f"[{bound}]":
            return True
        if is_wildcard(self.host) or not is_loopback(self.host):
            # Bound to the network on purpose: an IP literal cannot be rebound by DNS.
            return _is_ip(name)
        return False

    def host_refusal(self, request: web.BaseRequest) -> web.StreamResponse | None:
        host = request.headers.get("Host")
        if self.host_allowed(host):
            return None
        self.notice(
            "host",
            f"a request for another host ({_shown(host)}) answered 421: a web page may be "
            "trying to reach this server (DNS rebinding); allow a name with --allow-host",
        )
        return self.error_response(
            421, "misdirected_request", f"this {self.name} answers only to its own address"
        )

    async def read_body(
        self, request: web.BaseRequest, max_body: int | None = None
    ) -> tuple[bytes, int]:
        """The body within the limits, and the budget it holds: release it with
        `self.budget.release(reserved)` once answered. Raises BodyRefused."""
        return await read_body(request, self.limits, self.budget, max_body)

    def refused(self, exc: BodyRefused) -> web.StreamResponse:
        """The answer to a body the server would not read, the connection closed after."""
        self.notice(exc.kind, exc.notice)
        response = self.error_response(exc.status, "invalid_body", exc.message)
        response.headers["Connection"] = "close"
        if exc.retry_after:
            response.headers["Retry-After"] = "1"
        return response

    def answer_error(self, exc: Exception) -> web.StreamResponse:
        """The answer to what a request raised, for every server (the guard middleware,
        the listener's inline path): a body refused as such; nango-hooks' own error (a
        config edited into something it cannot use while serving) as 400 (404 for
        something unknown) with its message and hint, also said at the terminal; an
        HTTP error as itself; anything else as our fault (`failed`)."""
        from aiohttp import web

        if isinstance(exc, BodyRefused):
            return self.refused(exc)
        if isinstance(exc, NangoHooksError):
            status = 404 if isinstance(exc, NotFoundError) else 400
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            self.notice("error", f"answered {status}: {text}")
            return self.error_response(status, exc.kind, text)
        if isinstance(exc, web.HTTPException):
            if exc.status == 413:  # aiohttp's own cap (client_max_size)
                return self.refused(
                    BodyRefused(413, "body too large", "too-large", "a body over the cap")
                )
            if exc.status >= 500:
                return self.failed(exc)
            return self.error_response(exc.status, "http_error", exc.reason)
        return self.failed(exc)

    def failed(self, exc: BaseException) -> web.StreamResponse:
        """A fault of ours, never the client's: one notice with the exception's type
        (never its text, which could carry a secret), and a JSON 500."""
        self.notice("error", f"{self.name} failed on a request ({type(exc).__name__})")
        return self.error_response(
            500, "server_error", f"nango-hooks {self.name} failed ({type(exc).__name__})"
        )

    def _guard_middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            refusal = self.host_refusal(request)
            if refusal is not None:
                return refusal
            reserved = 0
            try:
                # Every body is read here, within the limits, before any route sees the
                # request (routes take it from request["body"]).
                body = b""
                if request.body_exists:
                    body, reserved = await self.read_body(request)
                request[BODY_KEY] = body
                return await handler(request)
            except (asyncio.CancelledError, ConnectionResetError):
                raise
            except Exception as exc:
                return self.answer_error(exc)
            finally:
                self.budget.release(reserved)

        return guard

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's errors (a failed accept, a socket gone mid-write) as one line each,
        never a traceback: the server keeps going."""
        exc = context.get("exception")
        text = str(context.get("message") or "event loop error")
        if exc is not None:
            text += f" ({type(exc).__name__})"
        self.notice("loop", text)


class _NoticeLogger(logging.Logger):
    """aiohttp's server logger, turned into notices: a malformed request is one line
    (kind "malformed"), never a traceback, and never the request's bytes (a malformed
    Authorization header would put the secret key in them)."""

    def __init__(self, server: LocalServer) -> None:
        super().__init__(f"nango-hooks.{server.name}")
        self.server = server
        self.propagate = False

    def handle(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        exc = record.exc_info[1] if record.exc_info else None
        self.server.notice("malformed", f"answered 400: {_describe(exc)}")


def _describe(exc: BaseException | None) -> str:
    """What was wrong with a request, without any of its bytes: aiohttp's messages
    quote the offending line after a colon."""
    if exc is None:
        return "a malformed request"
    text = str(getattr(exc, "message", "") or "").strip().splitlines()
    first = text[0] if text else type(exc).__name__
    first = first.split(":", 1)[0].split("'", 1)[0].split('"', 1)[0].strip()
    return (first or type(exc).__name__)[:80]


def _split_host(host: str) -> tuple[str, int | None]:
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.rpartition(":") if ":" in host else (host, "", "")
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else None
    if port_text and port is None:
        return host, -1  # a port that is not a number: never ours
    return name, port


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _shown(host: str | None) -> str:
    from nango_cli.support.text import one_line

    return one_line(repr(host or ""), 80)
