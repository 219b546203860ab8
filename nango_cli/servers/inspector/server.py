"""`nango-hooks ui`: the local web inspector's server, on the servers' skeleton.

The page and its script ship in the package (servers/inspector/static/) and load
nothing from the network. Security, for a server on a developer's machine that any
web page the browser visits could try to reach:

- it binds loopback unless told otherwise (and `listen --ui` keeps it on loopback
  even when the listener binds elsewhere, unless `--ui-host` names a host);
- a request whose `Host` is not this server's own address is refused with 421
  (the skeleton's check): a DNS-rebinding page cannot read it;
- every request that changes something (POST) needs this run's token, which only
  the served page carries, and an `Origin` equal to the page's own;
- payloads are only ever put in the page as text (the script never writes HTML
  from data), under a Content-Security-Policy that allows this server's own script
  and style and nothing else (no inline script, no eval, no frames).
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from nango_cli.app.settings import Settings
from nango_cli.servers.inspector import actions, views
from nango_cli.servers.limits import Limits
from nango_cli.servers.skeleton import Handler, LocalServer, Notice, request_body
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
    port: int = 0  # any free one; `ui` and `dev` pass the ui_port setting
    flag: str = "--port"  # the option that sets `port`, for a bind error's hint
    allowed_hosts: tuple[str, ...] = ()
    limits: Limits = field(default_factory=lambda: Limits(max_body=8 * 1024 * 1024))


class UiServer(LocalServer):
    name = "inspector"

    def __init__(
        self,
        options: UiOptions,
        store: Store,
        settings: Settings | Callable[[], Settings],
        on_notice: Callable[[Notice], None] | None = None,
    ) -> None:
        super().__init__(
            options.host,
            options.port,
            options.limits,
            on_notice=on_notice,
            allowed_hosts=options.allowed_hosts,
            port_flag=options.flag,
        )
        self.options = options
        self.store = store
        self._settings = settings
        self.token = secrets.token_urlsafe(24)

    @property
    def settings(self) -> Settings:
        source = self._settings
        return source() if callable(source) else source

    async def start(self) -> str:
        base = await super().start()
        self.url = base + "/"
        return self.url

    # ------------------------------------------------------------ skeleton

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._changes_need_the_page())
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

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        from aiohttp import web

        return web.json_response({"error": message}, status=status, headers=SECURITY_HEADERS)

    def _changes_need_the_page(self) -> Any:
        """POSTs need this run's token and the page's own Origin; every answer gets the
        security headers."""
        from aiohttp import web

        @web.middleware
        async def page_only(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method not in ("GET", "HEAD"):
                if request.headers.get("Origin") != f"http://{request.headers.get('Host', '')}":
                    return self.error_response(403, "origin", "cross-origin request refused")
                given = request.headers.get(TOKEN_HEADER, "")
                if not secrets.compare_digest(given, self.token):
                    return self.error_response(403, "token", "missing or wrong token")
            response = await handler(request)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page_only

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
            return self.error_response(404, "not_found", "not found")
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
            negatives=query.get("negatives", "1") != "0",
        )
        before = query.get("before")
        if before is not None and not (before.isascii() and before.isdigit() and len(before) < 19):
            return self.error_response(400, "before", "before must be a row number")
        start = int(before) if before else None
        data = await self._in_thread(lambda: views.page(self.store, filters, start))
        return web.json_response(data)

    async def _detail(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        webhook_id = request.match_info["id"]
        data = await self._in_thread(lambda: views.detail(self.store, webhook_id, self.settings))
        return web.json_response(data)

    async def _raw(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        webhook_id = request.match_info["id"]
        webhook = await self._in_thread(lambda: self.store.get(webhook_id, with_attempts=False))
        return web.Response(
            body=webhook.body,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{webhook.id}.body"'},
        )

    async def _check(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        # `check` keeps its report in the data directory, beside the history store.
        directory = self.store.path.parent
        found = await self._in_thread(lambda: views.check_report(directory))
        return web.json_response({"report": found})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: each webhook stored after the row the page last saw.

        The page says where it is: `?after=ROW` (the `latest` its list returned), or
        `Last-Event-ID` when the browser reconnects; each event carries its row as `id`.
        A position, never a clock: nothing stored after the page's list can be skipped,
        whatever the timing and however many processes write. When the history was
        cleared meanwhile, a `reset` event tells the page to load its list again."""
        from aiohttp import web

        given = request.headers.get("Last-Event-ID") or request.query.get("after")
        if given is not None and not (given.isascii() and given.isdigit() and len(given) < 19):
            return self.error_response(400, "after", "after must be a row number")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **SECURITY_HEADERS}
        )
        await response.prepare(request)
        # The store is read in a worker thread, never on the loop the API and the
        # listener share under `dev` (100 open pages stalled them for seconds).
        last = (
            int(given)
            if given is not None
            else await self._in_thread(lambda: views.latest_rowid(self.store))
        )
        generation = await self._in_thread(lambda: views.generation(self.store))
        await response.write(b"retry: 500\n: connected\n\n")
        try:
            while True:
                generation, reset, last, rows = await self._in_thread(
                    functools.partial(views.feed_step, self.store, last, generation)
                )
                if reset:
                    await response.write(b"event: reset\ndata: {}\n\n")
                for item in rows:
                    payload = json.dumps(item, ensure_ascii=True)
                    await response.write(
                        f"id: {item['rowid']}\nevent: webhook\ndata: {payload}\n\n".encode()
                    )
                if not rows:
                    await response.write(b": keep-alive\n\n")
                    if await self._closing_within(_POLL):
                        break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _closing_within(self, seconds: float) -> bool:
        """Wait `seconds`; True at once if the server is closing meanwhile."""
        closing = self.closing_now
        assert closing is not None
        try:
            await asyncio.wait_for(closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------ actions

    async def _body(self, request: web.Request) -> dict[str, Any]:
        from nango_cli.errors import UsageError

        try:
            data = json.loads(request_body(request) or b"null")
        except (ValueError, UnicodeDecodeError):
            raise UsageError("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise UsageError("the request body must be a JSON object")
        return data

    async def _replay(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        from nango_cli.app.settings_table import validate_url
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
        settings = self.settings
        sent = await self._in_thread(
            lambda: actions.replay(self.store, settings, request.match_info["id"], url, body)
        )
        return web.json_response({"webhooks": sent})

    async def _fire(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        data = await self._body(request)
        settings = self.settings
        result = await self._in_thread(lambda: actions.fire(self.store, settings, data))
        return web.json_response(result)


def _asset(name: str) -> bytes:
    return (resources.files("nango_cli.servers.inspector") / "static" / name).read_bytes()


def _attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)
