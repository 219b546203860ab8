"""The local webhook listener: receives, verifies, checks, stores and answers webhooks.

Built on the servers' skeleton (servers/skeleton.py: limits, Host check, notices).
It never prints: every received webhook becomes a `ReceivedEvent`, every refusal or
oddity a `Notice`, handed to a callback (delivery attempts of the external mode
arrive as the outbox's `AttemptEvent`s). The callback must not block: the CLI queues
lines for a printer thread, so a terminal that stops reading never stops the
listener. A webhook is answered only after its row is committed (intake.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.history_rows import AttemptRecord, new_id
from nango_cli.errors import UsageError
from nango_cli.protocol import schema, signatures, vocabulary
from nango_cli.protocol.signatures import KeyRing
from nango_cli.servers.listener import answers, external
from nango_cli.servers.listener.events import (
    EventFilter,
    ForwardResult,
    ListenerNotice,
    ListenOptions,
    ListenSummary,
    ReceivedEvent,
)
from nango_cli.servers.listener.forwarding import Forwarder
from nango_cli.servers.listener.intake import Intake, StoreFailed
from nango_cli.servers.skeleton import LocalServer, is_loopback
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp

if TYPE_CHECKING:
    from aiohttp import web

    from nango_cli.app.settings import Settings

__all__ = [
    "EventFilter",
    "ForwardResult",
    "ListenOptions",
    "ListenSummary",
    "Listener",
    "ListenerNotice",
    "ReceivedEvent",
    "is_loopback",
]


class Listener(LocalServer):
    name = "listener"

    def __init__(
        self,
        options: ListenOptions,
        store: Store,
        on_event: Callable[[Any], None],
        settings: Settings | Callable[[], Settings] | None = None,
        keys: Callable[[], KeyRing] | None = None,
    ) -> None:
        super().__init__(
            options.host,
            options.port,
            options.limits(),
            on_event,
            allowed_hosts=options.allowed_hosts,
        )
        self.options = options
        self.timeout = options.timeout
        self.store = store
        self.on_event = on_event
        # The settings external mode fires with: fixed, or read afresh for each webhook.
        self._settings = settings
        # The keys webhooks are verified with: options.keys, or read afresh per webhook.
        self.keys = keys or (lambda: options.keys)
        self.summary = ListenSummary()
        self.intake = Intake(store, self.notice)
        self.forwarder = (
            Forwarder(options.forward_to, options.forward_timeout, options.max_body)
            if options.forward_to and not options.external
            else None
        )
        self._seen = 0
        if options.external and settings is None:
            raise UsageError("external mode needs settings")

    @property
    def settings(self) -> Settings | None:
        source = self._settings
        return source() if callable(source) else source

    # ------------------------------------------------------------ lifecycle

    def guarded(self) -> bool:
        return False  # one route: the Host check and error shaping run inline, faster

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def started(self) -> None:
        self.intake.start()

    async def closing(self) -> None:
        # In-flight requests have finished (each waited for its row): drain the writer.
        await self.intake.stop()
        if self.forwarder is not None:
            self.forwarder.close()

    async def start(self) -> str:
        base = await super().start()
        self.url = base + (self.options.path or "/")
        return self.url

    def outcome(self) -> ListenSummary:
        self.summary.reason = self.stop_reason
        self.summary.notices = dict(self.notices)
        return self.summary

    # ------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self.host_refusal(request)
        if refusal is not None:
            return refusal
        opts = self.options
        if opts.path and request.path != opts.path:
            return self.error_response(404, "not_found", f"not found; webhooks go to {opts.path}")
        if request.method != "POST":
            response = self.error_response(405, "method", "webhooks are POST requests")
            response.headers["Allow"] = "POST"
            return response
        reserved = 0
        try:
            body, reserved = await self.read_body(request)
            headers = dict(request.headers.items())
            if opts.external:
                return await self._external(request, body, headers)
            return await self._webhook(request, body, headers)
        except StoreFailed as exc:
            response = self.error_response(
                503 if exc.busy else 400,
                "store",
                "cannot store webhooks right now"
                if exc.busy
                else "this request could not be stored",
            )
            response.headers["Connection"] = "close"
            if exc.busy:
                response.headers["Retry-After"] = "1"
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # the skeleton's answers, as every server gives them
            return self.answer_error(exc)
        finally:
            self.budget.release(reserved)

    async def _webhook(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        from aiohttp import web

        opts = self.options
        hmac_v, legacy_v = signatures.verify_headers(self.keys(), body, headers)
        encoding = request.headers.get("Content-Encoding")
        decoded, decode_note = answers.decode_body(body, encoding, opts.max_body)
        fields, notes = schema.check(decoded if decoded is not None else body)
        if decode_note:
            notes.insert(0, decode_note)
        filtered = opts.filters.active and not opts.filters.matches(fields)
        self._seen += 1
        status, response_body = answers.answer(opts, self._seen, hmac_v.ok)
        if opts.delay:
            await asyncio.sleep(opts.delay)
        forward = None
        relayed: dict[str, str] | None = None
        if self.forwarder is not None and status < 400 and not filtered:
            forward, (status, response_body, relayed) = await self.forwarder.forward(body, headers)
        event = _received(
            request,
            headers,
            body,
            hmac=hmac_v,
            legacy=legacy_v,
            notes=notes,
            fields=fields,
            answered=status,
            forward=forward,
            content_encoding=encoding,
            decoded=decoded,
            filtered=filtered,
        )
        await self._save(event)
        if relayed is None:
            return web.Response(status=status, body=response_body, content_type="application/json")
        return web.Response(status=status, body=response_body, headers=relayed)

    async def _save(self, event: ReceivedEvent, valid: bool | None = None) -> None:
        """Store the event (before it is answered), count it, report it, maybe stop."""
        record = answers.record_of(event, self.options.env, bool(self.options.external))
        # The forward to the app is stored as the received webhook's attempt.
        attempts: list[AttemptRecord] = [event.forward.attempt] if event.forward else []
        for attempt in attempts:
            attempt.number = 1
        await self.intake.store_row(record, attempts)
        event.id = record.id  # a colliding id was replaced when stored
        self.on_event(event)
        if event.filtered:
            self.summary.filtered += 1
            return
        valid = event.valid if valid is None else valid
        self.summary.received += 1
        if valid:
            self.summary.valid += 1
        else:
            self.summary.invalid += 1
        loop = asyncio.get_running_loop()
        if self.options.require_valid and not valid:
            loop.call_soon(self.stop, "invalid-signature")
        elif self.options.count is not None and self.summary.received >= self.options.count:
            loop.call_soon(self.stop, "count")

    async def _external(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Play Nango: wrap an external API's webhook as a forward (and maybe a sync)."""
        from aiohttp import web

        if not self.options.allow_browser:
            why = external.browser_origin(headers)
            if why is not None:
                self.notice(
                    "browser",
                    f"refused a request a web page could have sent ({why}): answered 403; "
                    "--allow-browser accepts them",
                )
                return self.error_response(
                    403,
                    "browser",
                    "refused: this looks like a request from a web page, and what arrives "
                    "here is signed and forwarded (listen --allow-browser accepts it)",
                )
        _, problem = schema.parse(body)
        event = _received(
            request,
            headers,
            body,
            hmac=signatures.HeaderCheck(vocabulary.HMAC_HEADER, "missing"),
            legacy=signatures.HeaderCheck(vocabulary.LEGACY_HEADER, "missing"),
            notes=[schema.Note("problem", problem)] if problem else [],
            fields={"type": "external", "providerConfigKey": self.options.integration},
            answered=200 if not problem else 400,
        )
        if problem is None:
            settings = self.settings
            assert settings is not None
            event.external_ids = await asyncio.to_thread(
                external.send, self.options, settings, self.store, body, headers, self.on_event
            )
        # An external webhook carries no Nango signature: it counts as valid.
        await self._save(event, valid=True)
        reply = {"received": True} if problem is None else {"error": problem}
        return web.json_response(reply, status=event.answered)


def _received(
    request: web.BaseRequest, headers: dict[str, str], body: bytes, **found: Any
) -> ReceivedEvent:
    """A request as it arrived, with what was found in it (`found`: the verdicts,
    notes and answer)."""
    return ReceivedEvent(
        id=new_id(),
        created_at=now_timestamp(),
        method=request.method,
        path=request.path_qs,
        headers=headers,
        body=body,
        **found,
    )
