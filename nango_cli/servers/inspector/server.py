"""`nango-hooks ui`: the local web inspector's server.

The page and its script ship in the package (servers/inspector/static/) and load
nothing from the network. Security, for a server on a developer's machine that
any web page the browser visits could try to reach:

- it binds loopback unless told otherwise;
- a request whose `Host` is not the bound address, `localhost` or `127.0.0.1`
  (with the bound port) is refused: a DNS-rebinding page cannot read it;
- every request that changes something (POST) needs this run's token, which
  only the served page carries, and an `Origin` equal to the page's own;
- payloads are only ever put in the page as text (the script never writes HTML
  from data), under a Content-Security-Policy that allows this server's own
  script and style and nothing else (no inline script, no eval, no frames).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from nango_cli.app.settings import Settings
from nango_cli.errors import NangoHooksError, NotFoundError
from nango_cli.servers.binding import bind
from nango_cli.servers.inspector import views
from nango_cli.storage.webhooks import Store

if TYPE_CHECKING:
    from aiohttp import web

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
_POLL = 0.25  # the live feed looks for new rows this often (other processes write too)
TOKEN_HEADER = "X-Nango-Hooks-Token"


@dataclass
class UiOptions:
    host: str = "127.0.0.1"
    port: int = 3458
    flag: str = "--port"  # the option that sets `port`, for a bind error's hint


class UiServer:
    def __init__(self, options: UiOptions, store: Store, settings: Settings) -> None:
        self.options = options
        self.store = store
        self.settings = settings
        self.token = secrets.token_urlsafe(24)
        self.url = ""
        self._port = 0
        self._runner: Any = None
        self._server: Any = None
        self._stop: asyncio.Event | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        from aiohttp import web

        app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=[self._guard])
        add = app.router.add_route
        add("GET", "/", self._index)
        add("GET", "/static/{name}", self._static)
        add("GET", "/api/webhooks", self._page)
        add("GET", "/api/webhooks/{id}", self._detail)
        add("GET", "/api/webhooks/{id}/raw", self._raw)
        add("GET", "/api/events", self._events)
        add("GET", "/api/check", self._check)
        add("POST", "/api/webhooks/{id}/replay", self._replay)
        add("POST", "/api/fire", self._fire)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._server, base = await bind(
            self._runner.server,
            self._runner,
            self.options.host,
            self.options.port,
            self.options.flag,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self.url = base + "/"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        self._stop = asyncio.Event()
        url = await self.start()
        if on_ready:
            on_ready(url)
        try:
            await self._stop.wait()
        finally:
            await self.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    # ------------------------------------------------------------ security

    def _allowed_hosts(self) -> set[str]:
        port = self._port
        names = {self.options.host, "localhost", "127.0.0.1", "[::1]"}
        return {f"{name}:{port}" for name in names}

    def _origin(self, request: web.Request) -> str:
        return f"http://{request.headers.get('Host', '')}"

    @staticmethod
    def _json_error(status: int, message: str) -> web.Response:
        from aiohttp import web

        return web.json_response({"error": message}, status=status, headers=SECURITY_HEADERS)

    async def _guard_impl(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        from aiohttp import web

        host = request.headers.get("Host", "")
        if host not in self._allowed_hosts():
            # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
            return self._json_error(421, "this inspector answers only to its own address")
        if request.method not in ("GET", "HEAD"):
            if request.headers.get("Origin") != self._origin(request):
                return self._json_error(403, "cross-origin request refused")
            if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), self.token):
                return self._json_error(403, "missing or wrong token")
        try:
            response = await handler(request)
        except NangoHooksError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 400
            return self._json_error(status, exc.message + (f" ({exc.hint})" if exc.hint else ""))
        except (web.HTTPException, asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # ours, not the page's: an answer, not a traceback
            return self._json_error(500, f"the inspector failed ({type(exc).__name__})")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @property
    def _guard(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            return await self._guard_impl(request, handler)

        return guard

    # ------------------------------------------------------------ pages

    async def _index(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        page = _asset("index.html").decode()
        page = page.replace("{{TOKEN}}", self.token).replace("{{ENV}}", _attr(self.settings.env))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        name = request.match_info["name"]
        if name not in _STATIC:
            return self._json_error(404, "not found")
        return web.Response(body=_asset(name), content_type=_STATIC[name], charset="utf-8")

    # ------------------------------------------------------------ data

    async def _in_thread(self, call: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        query = request.query
        filters = views.Filters(
            type=query.get("type") or None,
            sync_name=query.get("sync") or None,
            connection_id=query.get("connection") or None,
            direction=query.get("direction") or None,
            verdict=query.get("verdict") or None,
            failed=query.get("failed") == "1",
        )
        before = query.get("before")
        if before is not None and not before.isdigit():
            return self._json_error(400, "before must be a row number")
        data = views.page(self.store, filters, int(before) if before else None)
        return web.json_response(data)

    async def _detail(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        data = views.detail(self.store, request.match_info["id"], self.settings)
        return web.json_response(data)

    async def _raw(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        webhook = self.store.get(request.match_info["id"], with_attempts=False)
        return web.Response(
            body=webhook.body,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{webhook.id}.body"'},
        )

    async def _check(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.json_response({"report": views.check_report()})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: each new webhook, as it lands in the store."""
        from aiohttp import web

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **SECURITY_HEADERS}
        )
        await response.prepare(request)
        last = views.latest_rowid(self.store)
        await response.write(b": connected\n\n")
        try:
            while True:
                await asyncio.sleep(_POLL)
                rows = views.newer(self.store, last)
                for item in rows:
                    last = max(last, int(item["rowid"]))
                    payload = json.dumps(item, ensure_ascii=True)
                    await response.write(f"event: webhook\ndata: {payload}\n\n".encode())
                if not rows:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    # ------------------------------------------------------------ actions

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise NangoHooksError("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise NangoHooksError("the request body must be a JSON object")
        return data

    async def _replay(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        from nango_cli.app.settings import validate_url
        from nango_cli.errors import UsageError

        data = await self._body(request)
        url = str(data.get("url") or "").strip() or None
        if url:
            try:
                url = validate_url(url)
            except ValueError as exc:
                raise UsageError(f"invalid URL {url!r}: {exc}") from None
        edited = data.get("body")
        body = edited.encode() if isinstance(edited, str) else None
        sent = await self._in_thread(
            lambda: views.replay(self.store, self.settings, request.match_info["id"], url, body)
        )
        return web.json_response({"webhooks": sent})

    async def _fire(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        data = await self._body(request)
        result = await self._in_thread(lambda: views.fire(self.store, self.settings, data))
        return web.json_response(result)


def _asset(name: str) -> bytes:
    return (resources.files("nango_cli.servers.inspector") / "static" / name).read_bytes()


def _attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)
