"""The local webhook listener: receives, verifies, checks, stores and answers webhooks.

It never prints: every received webhook becomes a `ReceivedEvent` handed to a
callback (delivery attempts of the external-forward mode arrive as the fire
engine's `AttemptEvent`s). Built on aiohttp's server, chosen by measurement
(see README, Performance): it parses HTTP, so this module does not.

Durability: a webhook is answered only after its row is committed. Rows are
written by one writer task in batches (one transaction for all requests that
arrived meanwhile), which is what makes thousands of webhooks a second possible
on SQLite without ever answering 2xx for a row that is not committed. The commit
runs on the event loop itself: a batch takes well under a millisecond, and a
hop to a worker thread per batch cost more than it saved (measured: ~3,700/s
with the hop, ~4,100/s without, at 10 connections).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from nango_cli import schema, signing
from nango_cli.delivery import HOP_BY_HOP
from nango_cli.errors import BindError, UsageError
from nango_cli.payloads import now_timestamp
from nango_cli.store import RECEIVED, RESPONSE_BODY_CAP, AttemptRecord, Store, WebhookRecord, new_id

if TYPE_CHECKING:
    from aiohttp import web

    from nango_cli.config import Settings

DEFAULT_MAX_BODY = 5 * 1024 * 1024
_RECEIVED = b'{"received": true}'
_BATCH_LIMIT = 512


@dataclass
class ListenOptions:
    host: str = "127.0.0.1"
    port: int = 3456
    path: str | None = None
    key: str | None = None
    other_keys: tuple[str, ...] = ()
    status: int = 200
    fail_first: int = 0
    delay: float = 0.0
    reject_invalid: bool = False
    forward_to: str | None = None
    forward_timeout: float = 20.0
    max_body: int = DEFAULT_MAX_BODY
    count: int | None = None
    timeout: float | None = None
    require_valid: bool = False
    env: str = "dev"
    # external mode: play Nango for an external API's webhooks
    external: str | None = None
    integration: str | None = None
    connection_id: str | None = None
    trigger_sync: str | None = None


@dataclass
class ForwardResult:
    """What the app answered when a webhook was proxied to it (one attempt, no retries)."""

    url: str
    attempt: AttemptRecord

    @property
    def status_code(self) -> int | None:
        return self.attempt.status_code

    @property
    def latency_ms(self) -> float:
        return self.attempt.latency_ms or 0.0

    @property
    def excerpt(self) -> str:
        return self.attempt.response_body[:200].decode("utf-8", "backslashreplace")

    @property
    def error(self) -> str | None:
        if self.attempt.error_class is None:
            return None
        return f"{self.attempt.error_class}: {self.attempt.error}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "excerpt": self.excerpt,
            "error": self.error,
            "attempt": self.attempt.to_dict(include_body=False),
        }


@dataclass
class ReceivedEvent:
    id: str
    created_at: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    hmac: signing.Verdict
    legacy: signing.Verdict
    notes: list[schema.Note]
    fields: dict[str, Any]
    answered: int
    forward: ForwardResult | None = None
    external_ids: list[str] = field(default_factory=list)

    @property
    def signature_state(self) -> str:
        """One verdict for the webhook: the HMAC header decides; legacy-only is invalid."""
        if self.hmac.state == "missing" and self.legacy.state == "valid":
            return "legacy-only"
        return self.hmac.state

    @property
    def valid(self) -> bool:
        return self.hmac.ok

    def summary_fields(self) -> dict[str, Any]:
        f = self.fields
        results = f.get("responseResults") if isinstance(f.get("responseResults"), dict) else None
        return {
            "type": f.get("type") if isinstance(f.get("type"), str) else None,
            "sync_name": f.get("syncName"),
            "model": f.get("model"),
            "operation": f.get("operation"),
            "connection_id": f.get("connectionId"),
            "provider_config_key": f.get("providerConfigKey"),
            "success": f.get("success"),
            "counts": results,
        }

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "received_at": self.created_at,
            "method": self.method,
            "path": self.path,
            **self.summary_fields(),
            "size": len(self.body),
            "signature": {
                "verdict": self.signature_state,
                "hmac": {"state": self.hmac.state, "reason": self.hmac.reason},
                "legacy": {"state": self.legacy.state, "reason": self.legacy.reason},
            },
            "schema": [n.to_dict() for n in self.notes],
            "answered": self.answered,
            "forward": self.forward.to_dict() if self.forward else None,
            "external_forwards": self.external_ids,
        }
        if include_body:
            data["headers"] = self.headers
            data["body"] = self.body.decode("utf-8", "backslashreplace")
        return data


@dataclass
class ListenSummary:
    received: int = 0
    valid: int = 0
    invalid: int = 0
    reason: str = "stopped"  # "count" | "timeout" | "invalid-signature" | "interrupted"


@dataclass
class _Pending:
    record: WebhookRecord
    done: asyncio.Future[None]
    attempts: list[AttemptRecord] = field(default_factory=list)


class Listener:
    def __init__(
        self,
        options: ListenOptions,
        store: Store,
        on_event: Callable[[Any], None],
        settings: Settings | None = None,
    ) -> None:
        self.options = options
        self.store = store
        self.on_event = on_event
        self.settings = settings
        self.summary = ListenSummary()
        self.url = ""
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._seen = 0
        self._sender: Any = None
        self._executor: ThreadPoolExecutor | None = None
        if options.external and settings is None:
            raise UsageError("external mode needs settings")

    # ------------------------------------------------------------ lifecycle

    def stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.summary.reason = reason
            self._stop.set()

    async def run(self, on_ready: Callable[[str], None] | None = None) -> ListenSummary:
        from aiohttp import web

        app = web.Application(client_max_size=self.options.max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise self._bind_error(exc) from None
        port = self._bound_port(runner)
        host = self.options.host
        shown_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown_host}:{port}{self.options.path or '/'}"
        writer = asyncio.create_task(self._writer())
        if on_ready:
            on_ready(self.url)
        try:
            if self.options.timeout is not None:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.options.timeout)
                except TimeoutError:
                    self.stop("timeout")
            else:
                await self._stop.wait()
        finally:
            # Stop accepting, then let in-flight requests finish while the writer still runs:
            # each waits for its row, and one that queued after a final flush would wait
            # for aiohttp's shutdown timeout (60 s). Only then stop the writer and drain it.
            await site.stop()
            await runner.cleanup()
            writer.cancel()
            await self._flush()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        return self.summary

    def _bind_error(self, exc: OSError) -> BindError:
        where = f"{self.options.host}:{self.options.port}"
        if exc.errno == errno.EADDRINUSE:
            return BindError(
                f"port {self.options.port} is already in use ({where})",
                hint="stop what is using it, or pick another with --port (0 picks a free one)",
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return BindError(
                f"not allowed to listen on {where}", hint="use a port above 1023, e.g. --port 3456"
            )
        return BindError(
            f"cannot listen on {where}: {exc.strerror or exc}",
            hint="check --host (127.0.0.1 is the default)",
        )

    @staticmethod
    def _bound_port(runner: web.AppRunner) -> int:
        for address in runner.addresses:
            if isinstance(address, tuple):
                return int(address[1])
        return 0

    # ------------------------------------------------------------ storage

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            # One turn of the loop lets requests already read join this transaction.
            await asyncio.sleep(0)
            batch = [first]
            while not self._queue.empty() and len(batch) < _BATCH_LIMIT:
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            self.store.record_webhooks(
                [p.record for p in batch],
                [(p.record.id, a) for p in batch for a in p.attempts],
            )
        except Exception as exc:  # every waiting request learns its row was not stored
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
        else:
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_result(None)

    async def _flush(self) -> None:
        batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._commit(batch)

    async def _store(self, record: WebhookRecord, attempts: list[AttemptRecord]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(record, done, attempts))
        await done

    # ------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        opts = self.options
        if opts.path and request.path != opts.path:
            return web.json_response(
                {"error": f"not found; webhooks go to {opts.path}"}, status=404
            )
        if request.method != "POST":
            return web.json_response(
                {"error": "webhooks are POST requests"}, status=405, headers={"Allow": "POST"}
            )
        if request.content_length is not None and request.content_length > opts.max_body:
            # Refused before reading a byte of the body; the connection is closed after.
            return web.json_response(
                {"error": f"body larger than {opts.max_body} bytes"},
                status=413,
                headers={"Connection": "close"},
            )
        try:
            if request.content_length is not None:
                body = await request.content.readexactly(request.content_length)
            else:  # chunked: read up to the cap
                body = await self._read_capped(request)
        except _TooLarge:
            return web.json_response(
                {"error": f"body larger than {opts.max_body} bytes"},
                status=413,
                headers={"Connection": "close"},
            )
        except asyncio.IncompleteReadError:
            return web.json_response(
                {"error": "incomplete body"}, status=400, headers={"Connection": "close"}
            )
        headers = {k: v for k, v in request.headers.items()}
        if opts.external:
            return await self._external(request, body, headers)
        return await self._webhook(request, body, headers)

    async def _read_capped(self, request: web.Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.options.max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _verdicts(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[signing.Verdict, signing.Verdict]:
        return signing.verify_headers(self.options.key, body, headers, self.options.other_keys)

    async def _webhook(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        from aiohttp import web

        opts = self.options
        hmac_v, legacy_v = self._verdicts(body, headers)
        fields, notes = schema.check(body)
        self._seen += 1
        if opts.reject_invalid and not hmac_v.ok:
            status, response_body = 401, b'{"error": "invalid signature"}'
        elif self._seen <= opts.fail_first:
            status = 500
            response_body = f'{{"error": "--fail-first: failing request {self._seen}"}}'.encode()
        else:
            status, response_body = opts.status, _RECEIVED
        if opts.delay:
            await asyncio.sleep(opts.delay)
        forward = None
        response_headers: dict[str, str] | None = None
        if opts.forward_to and status < 400:
            forward, (status, response_body, response_headers) = await self._proxy(body, headers)
        event = ReceivedEvent(
            id=new_id(),
            created_at=now_timestamp(),
            method=request.method,
            path=request.path_qs,
            headers=headers,
            body=body,
            hmac=hmac_v,
            legacy=legacy_v,
            notes=notes,
            fields=fields,
            answered=status,
            forward=forward,
        )
        await self._save(event)
        if response_headers is None:
            return web.Response(status=status, body=response_body, content_type="application/json")
        return web.Response(status=status, body=response_body, headers=response_headers)

    def _record(self, event: ReceivedEvent) -> WebhookRecord:
        summary = event.summary_fields()
        meta = {
            "signature": event.signature_state,
            "verdicts": {
                "hmac": [event.hmac.state, event.hmac.reason],
                "legacy": [event.legacy.state, event.legacy.reason],
            },
            "schema": [n.to_dict() for n in event.notes],
            "method": event.method,
            "path": event.path,
            "answered": event.answered,
        }
        if event.forward:
            meta["forward"] = event.forward.to_dict()
        if event.external_ids:
            meta["external_forwards"] = event.external_ids
        return WebhookRecord(
            id=event.id,
            created_at=event.created_at,
            direction="received",
            env=self.options.env,
            type=summary["type"] if not self.options.external else "external",
            body=event.body,
            headers=event.headers,
            status=RECEIVED,
            sync_name=summary["sync_name"] if isinstance(summary["sync_name"], str) else None,
            model=summary["model"] if isinstance(summary["model"], str) else None,
            connection_id=summary["connection_id"]
            if isinstance(summary["connection_id"], str)
            else None,
            provider_config_key=summary["provider_config_key"]
            if isinstance(summary["provider_config_key"], str)
            else None,
            meta=meta,
        )

    async def _save(self, event: ReceivedEvent, valid: bool | None = None) -> None:
        """Store the event (before it is answered), count it, report it, maybe stop."""
        record = self._record(event)
        # The forward to the app is stored as the received webhook's attempt.
        attempts = [event.forward.attempt] if event.forward else []
        for attempt in attempts:
            attempt.number = 1
        await self._store(record, attempts)
        event.id = record.id  # a colliding id was replaced when stored
        valid = event.valid if valid is None else valid
        self.summary.received += 1
        if valid:
            self.summary.valid += 1
        else:
            self.summary.invalid += 1
        self.on_event(event)
        loop = asyncio.get_running_loop()
        if self.options.require_valid and not valid:
            loop.call_soon(self.stop, "invalid-signature")
        elif self.options.count is not None and self.summary.received >= self.options.count:
            loop.call_soon(self.stop, "count")

    async def _proxy(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[ForwardResult, tuple[int, bytes, dict[str, str]]]:
        """Send the webhook on to the app, unchanged, with the httpx sender (in a worker
        thread); the app's whole answer (up to --max-body) goes back to the sender."""
        url = self.options.forward_to or ""
        if self._sender is None:
            from nango_cli.transports.httpx_sender import Sender

            self._sender = Sender()
        out_headers = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        cap = max(self.options.max_body, RESPONSE_BODY_CAP)
        attempt = await asyncio.get_running_loop().run_in_executor(
            self._forward_pool(),
            partial(self._sender.send, url, body, out_headers, self.options.forward_timeout, cap),
        )
        result = ForwardResult(url, attempt)
        if attempt.status_code is None:
            reply = json.dumps({"error": f"app unreachable: {result.error}"}).encode()
            return result, (502, reply, {"Content-Type": "application/json"})
        if attempt.response_truncated:
            reply = json.dumps({"error": f"the app's answer is larger than {cap} bytes"}).encode()
            return result, (502, reply, {"Content-Type": "application/json"})
        relayed = {
            k: v
            for k, v in attempt.response_headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "date" and k.lower() != "server"
        }
        return result, (attempt.status_code, attempt.response_body, relayed)

    def _forward_pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="forward")
        return self._executor

    # ------------------------------------------------------------ external mode

    async def _external(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Play Nango: wrap an external API's webhook as a forward (and maybe a sync)."""
        from aiohttp import web

        _, problem = schema.parse(body)
        event = ReceivedEvent(
            id=new_id(),
            created_at=now_timestamp(),
            method=request.method,
            path=request.path_qs,
            headers=headers,
            body=body,
            hmac=signing.Verdict(signing.HMAC_HEADER, "missing"),
            legacy=signing.Verdict(signing.LEGACY_HEADER, "missing"),
            notes=[schema.Note("problem", problem)] if problem else [],
            fields={"type": "external", "providerConfigKey": self.options.integration},
            answered=200 if not problem else 400,
        )
        if problem is None:
            event.external_ids = await asyncio.to_thread(self._send_external, body, headers)
        # An external webhook carries no Nango signature: it counts as valid.
        await self._save(event, valid=True)
        reply = {"received": True} if problem is None else {"error": problem}
        return web.json_response(reply, status=event.answered)

    def _send_external(self, body: bytes, headers: dict[str, str]) -> list[str]:
        from nango_cli import fire, pipeline

        assert self.settings is not None
        opts = self.options
        forward = fire.FireOptions(
            kind="forward",
            integration=opts.integration,
            provider=opts.external,
            connection_id=opts.connection_id,
            unmatched=opts.connection_id is None,
            forward_body=body,
            forward_headers=list(headers.items()),
            urls=[opts.forward_to] if opts.forward_to else [],
        )
        plans = [fire.plan(forward, self.settings)]
        if opts.trigger_sync:
            sync = fire.FireOptions(
                kind="sync",
                sync_name=opts.trigger_sync,
                integration=opts.integration,
                connection_id=opts.connection_id,
                sync_type="WEBHOOK",
                urls=[opts.forward_to] if opts.forward_to else [],
            )
            plans.append(fire.plan(sync, self.settings))
        ids: list[str] = []
        for one in plans:
            sent = pipeline.execute(one, self.store, self.on_event)
            ids.extend(s.record.id for s in sent)
        return ids


class _TooLarge(Exception):
    pass


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
