"""The local webhook listener: receives, verifies, checks, stores and answers webhooks.

It never prints: every received webhook becomes a `ReceivedEvent`, every
refusal or oddity a `ListenerNotice`, handed to a callback (delivery attempts
of the external mode arrive as the pipeline's `AttemptEvent`s). The callback
must not block: the CLI queues lines for a printer thread, so a terminal that
stops reading never stops the listener. Built on aiohttp's server, chosen by
measurement (README, Performance): it parses HTTP, so this module does not.

Durability: a webhook is answered only after its row is committed. Rows are
written by one writer task in batches (one transaction for all requests that
arrived meanwhile), which is what makes thousands of webhooks a second possible
on SQLite without ever answering 2xx for a row that is not committed. A batch
that fails is retried row by row, so one request the store cannot take never
fails its neighbours. The commit runs on the event loop itself: a batch takes
well under a millisecond, and a hop to a worker thread per batch cost more than
it saved (~3,700/s with the hop, ~4,100/s without, at 10 connections).

Limits, for senders that are broken or hostile (README, Listen):
- an idle connection, or one still sending its headers, is closed after
  `idle_timeout`; a body must arrive within `body_timeout`;
- beyond `max_connections` a connection gets an immediate 503 and is closed,
  and the soft file-descriptor limit is raised to the hard one at start;
- bodies in flight share `body_budget` bytes: past it, 503 with Retry-After;
- one body is at most `max_body` (413, not read);
- an encoded body (Content-Encoding) is stored as received, verified on those
  bytes and forwarded unchanged; it is decoded, within `max_body`, only to be
  shown and checked;
- a malformed request is one notice, never a traceback; a full disk is a 503
  and one notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.records import (
    RECEIVED,
    RESPONSE_BODY_CAP,
    AttemptRecord,
    WebhookRecord,
    new_id,
)
from nango_cli.errors import UsageError
from nango_cli.protocol import schema, signatures, vocabulary
from nango_cli.protocol.headers import HOP_BY_HOP
from nango_cli.servers.binding import bind
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp

if TYPE_CHECKING:
    from aiohttp import web

    from nango_cli.app.settings import Settings

DEFAULT_MAX_BODY = 5 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_BODY_BUDGET = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 30.0
_RECEIVED = b'{"received": true}'
_GATHER_TURNS = 4
_BATCH_LIMIT = 512
# File descriptors kept free beyond the connections: for the store, pipes, and a burst
# of accepts (asyncio accepts up to `backlog` connections at once, each taking a
# descriptor before it can be refused).
_FD_RESERVE = 64
_MAX_BACKLOG = 1024


@dataclass(frozen=True)
class EventFilter:
    """Which webhooks `listen` prints, counts and forwards (all are answered and stored).

    Each list is a set of accepted values; an empty list accepts anything. A
    webhook matches when every non-empty list accepts it.
    """

    types: tuple[str, ...] = ()
    syncs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.types or self.syncs or self.models or self.connections)

    def matches(self, fields: dict[str, Any]) -> bool:
        def ok(accepted: tuple[str, ...], value: Any) -> bool:
            return not accepted or (isinstance(value, str) and value in accepted)

        # A sync error names all its models joined with commas: any one matches.
        model = fields.get("model")
        models = model.split(",") if isinstance(model, str) else [model]
        return (
            ok(self.types, fields.get("type"))
            and ok(self.syncs, fields.get("syncName"))
            and (not self.models or any(ok(self.models, m) for m in models))
            and ok(self.connections, fields.get("connectionId"))
        )


@dataclass
class ListenOptions:
    host: str = "127.0.0.1"
    port: int = 3456
    path: str | None = None
    keys: signatures.KeyRing = field(default_factory=signatures.KeyRing)
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
    filters: EventFilter = field(default_factory=EventFilter)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    body_budget: int = DEFAULT_BODY_BUDGET
    idle_timeout: float = IDLE_TIMEOUT_S
    body_timeout: float = BODY_TIMEOUT_S
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
    hmac: signatures.Verdict
    legacy: signatures.Verdict
    notes: list[schema.Note]
    fields: dict[str, Any]
    answered: int
    forward: ForwardResult | None = None
    external_ids: list[str] = field(default_factory=list)
    content_encoding: str | None = None
    # The body decoded from its Content-Encoding, for showing and checking only.
    decoded: bytes | None = None
    # Left out by `listen --type/--sync/--model/--connection` (answered and stored).
    filtered: bool = False

    @property
    def signature_state(self) -> str:
        """One verdict for the webhook: the HMAC header decides; legacy-only is invalid."""
        if self.hmac.state == "missing" and self.legacy.state == "valid":
            return "legacy-only"
        return self.hmac.state

    @property
    def valid(self) -> bool:
        return self.hmac.ok

    @property
    def readable_body(self) -> bytes:
        return self.decoded if self.decoded is not None else self.body

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
            "content_encoding": self.content_encoding,
            "signature": {
                "verdict": self.signature_state,
                "hmac": {
                    "state": self.hmac.state,
                    "reason": self.hmac.reason,
                    "matched": self.hmac.matched,
                },
                "legacy": {
                    "state": self.legacy.state,
                    "reason": self.legacy.reason,
                    "matched": self.legacy.matched,
                },
            },
            "schema": [n.to_dict() for n in self.notes],
            "answered": self.answered,
            "filtered": self.filtered,
            "forward": self.forward.to_dict() if self.forward else None,
            "external_forwards": self.external_ids,
        }
        if include_body:
            data["headers"] = self.headers
            data["body"] = self.readable_body.decode("utf-8", "backslashreplace")
        return data


@dataclass
class ListenerNotice:
    """Something the listener refused or noticed, other than a webhook."""

    kind: str  # "refused" | "busy" | "too-large" | "timeout" | "malformed" | "store" | "loop"
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass
class ListenSummary:
    received: int = 0
    valid: int = 0
    invalid: int = 0
    filtered: int = 0
    reason: str = "stopped"  # "count" | "timeout" | "invalid-signature" | "interrupted"
    # What was turned away or went wrong, by notice kind.
    notices: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    record: WebhookRecord
    done: asyncio.Future[None]
    attempts: list[AttemptRecord] = field(default_factory=list)


class _StoreFailed(Exception):
    """A row could not be stored; `busy` when the store as a whole cannot take rows."""

    def __init__(self, message: str, busy: bool) -> None:
        super().__init__(message)
        self.busy = busy


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
        self._budget_left = options.body_budget
        self._store_failing = False
        self._server: Any = None
        self._open = 0  # connections accepted and not yet lost
        self._notice_state: dict[str, tuple[float, int]] = {}
        if options.external and settings is None:
            raise UsageError("external mode needs settings")

    # ------------------------------------------------------------ lifecycle

    def stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.summary.reason = reason
            self._stop.set()

    def notice(self, kind: str, message: str) -> None:
        """Count it; report it unless the same kind was reported less than a second ago
        (then the next report says how many were not), so a flood is a few lines."""
        self.summary.notices[kind] = self.summary.notices.get(kind, 0) + 1
        now = time.monotonic()
        last, held = self._notice_state.get(kind, (0.0, 0))
        if now - last < 1.0:
            self._notice_state[kind] = (last, held + 1)
            return
        self._notice_state[kind] = (now, 0)
        if held:
            message += f" (and {held} more like it in the last second)"
        self.on_event(ListenerNotice(kind, message))

    async def run(self, on_ready: Callable[[str], None] | None = None) -> ListenSummary:
        from aiohttp import web

        opts = self.options
        files_limit = raise_fd_limit()
        opts.max_connections = max(1, min(opts.max_connections, files_limit - _FD_RESERVE))
        # A burst of accepts must fit in the descriptors kept free, beside the process's
        # own (~32) and the refused sockets of the previous burst, which close a loop
        # turn later: then accepting never fails with "too many open files" (after
        # which asyncio stops accepting for a second).
        spare = files_limit - opts.max_connections - 32
        backlog = max(8, min(_MAX_BACKLOG, spare // 2))
        app = web.Application(client_max_size=opts.max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            # Also how long a new connection may take to send its headers.
            keepalive_timeout=opts.idle_timeout,
            # Encoded bodies are kept as received (stored, verified, forwarded).
            auto_decompress=False,
            logger=_NoticeLogger(self),
        )
        await runner.setup()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        server = runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            # Counted here, not from aiohttp's list of connections: that list is updated
            # a loop turn later, and a burst of connections would all pass the check.
            if self._open >= opts.max_connections:
                self.notice(
                    "refused", f"over {opts.max_connections} connections: answered 503, closed"
                )
                return _Refuse()
            self._open += 1
            return _Counted(server(), self)

        self._server, base = await bind(
            protocol, runner, opts.host, opts.port, backlog=backlog, reuse_address=True
        )
        self.url = base + (opts.path or "/")
        writer = asyncio.create_task(self._writer())
        if on_ready:
            on_ready(self.url)
        try:
            if opts.timeout is not None:
                try:
                    await asyncio.wait_for(self._stop.wait(), opts.timeout)
                except TimeoutError:
                    self.stop("timeout")
            else:
                await self._stop.wait()
        finally:
            # Stop accepting, then let in-flight requests finish while the writer still runs:
            # each waits for its row, and one that queued after a final flush would wait
            # for aiohttp's shutdown timeout (60 s). Only then stop the writer and drain it.
            self._server.close()
            await runner.cleanup()
            writer.cancel()
            await self._flush()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        return self.summary

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's errors (a failed accept, a socket gone mid-write) as one line each,
        never a traceback: the listener keeps going."""
        exc = context.get("exception")
        text = str(context.get("message") or "event loop error")
        if exc is not None:
            text += f" ({type(exc).__name__}: {exc})" if str(exc) else f" ({type(exc).__name__})"
        self.notice("loop", text)

    # ------------------------------------------------------------ storage

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            # Let requests already being read join this transaction: wait while the
            # queue still grows, a few loop turns at most. Fewer, larger commits are
            # what keeps the listener's cost per webhook flat under load.
            for _turn in range(_GATHER_TURNS):
                waiting = self._queue.qsize()
                await asyncio.sleep(0)
                if self._queue.qsize() == waiting:
                    break
            batch = [first]
            while not self._queue.empty() and len(batch) < _BATCH_LIMIT:
                batch.append(self._queue.get_nowait())
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._insert(batch)
        except sqlite3.OperationalError as exc:
            # The store itself cannot take rows (disk full, locked too long).
            self._fail(batch, _StoreFailed(str(exc), busy=True))
            if not self._store_failing:
                self._store_failing = True
                self.notice(
                    "store",
                    f"cannot store webhooks ({exc}): answering 503 until it can; "
                    "check the disk holding the history",
                )
            return
        except Exception:
            # Something in one row: store the others, each on its own.
            for pending in batch:
                try:
                    self._insert([pending])
                except Exception as exc:
                    self._fail([pending], _StoreFailed(f"{type(exc).__name__}", busy=False))
                    self.notice("store", f"a request could not be stored ({type(exc).__name__})")
                else:
                    self._succeed([pending])
            return
        self._store_failing = False
        self._succeed(batch)

    def _insert(self, batch: list[_Pending]) -> None:
        self.store.record_webhooks(
            [p.record for p in batch], [(p.record.id, a) for p in batch for a in p.attempts]
        )

    @staticmethod
    def _succeed(batch: list[_Pending]) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    @staticmethod
    def _fail(batch: list[_Pending], exc: Exception) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(exc)

    async def _flush(self) -> None:
        batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            self._commit(batch)

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
        length = request.content_length
        if length is not None and length > opts.max_body:
            # Refused before reading a byte of the body; the connection is closed after.
            self.notice("too-large", f"a {length}-byte body (over --max-body): answered 413")
            return _closing(413, f"body larger than {opts.max_body} bytes")
        reserved = 0
        try:
            if length is not None:
                reserved = self._reserve(length)
                # Most bodies arrived with the headers: take them without arming a timer.
                body = request.content.read_nowait(length)
                if len(body) < length:
                    async with asyncio.timeout(opts.body_timeout):
                        body += await request.content.readexactly(length - len(body))
            else:  # chunked: read up to the cap, reserving as it comes
                async with asyncio.timeout(opts.body_timeout):
                    body, reserved = await self._read_chunked(request)
            headers = dict(request.headers.items())
            if opts.external:
                return await self._external(request, body, headers)
            return await self._webhook(request, body, headers)
        except _OverBudget:
            self.notice("busy", "bodies in flight over --body-budget: answered 503")
            return _closing(503, "too many bodies in flight; retry shortly", retry_after=True)
        except _TooLarge:
            self.notice("too-large", "a chunked body over --max-body: answered 413")
            return _closing(413, f"body larger than {opts.max_body} bytes")
        except TimeoutError:
            self.notice("timeout", f"a body not sent within {opts.body_timeout:g}s: answered 408")
            return _closing(408, "the body did not arrive in time")
        except asyncio.IncompleteReadError:
            return _closing(400, "incomplete body")
        except _StoreFailed as exc:
            if exc.busy:
                return _closing(503, "cannot store webhooks right now", retry_after=True)
            return _closing(400, "this request could not be stored")
        finally:
            self._budget_left += reserved

    def _reserve(self, size: int) -> int:
        if size > self._budget_left:
            raise _OverBudget
        self._budget_left -= size
        return size

    async def _read_chunked(self, request: web.Request) -> tuple[bytes, int]:
        chunks, size, reserved = [], 0, 0
        try:
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > self.options.max_body:
                    raise _TooLarge
                reserved += self._reserve(len(chunk))
                chunks.append(chunk)
        except BaseException:
            self._budget_left += reserved
            raise
        return b"".join(chunks), reserved

    def _verdicts(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[signatures.Verdict, signatures.Verdict]:
        return signatures.verify_headers(self.options.keys, body, headers)

    async def _webhook(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        from aiohttp import web

        opts = self.options
        hmac_v, legacy_v = self._verdicts(body, headers)
        encoding = request.headers.get("Content-Encoding")
        decoded, decode_note = decode_body(body, encoding, opts.max_body)
        fields, notes = schema.check(decoded if decoded is not None else body)
        if decode_note:
            notes.insert(0, decode_note)
        filtered = opts.filters.active and not opts.filters.matches(fields)
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
        if opts.forward_to and status < 400 and not filtered:
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
            content_encoding=encoding,
            decoded=decoded,
            filtered=filtered,
        )
        await self._save(event)
        if response_headers is None:
            return web.Response(status=status, body=response_body, content_type="application/json")
        return web.Response(status=status, body=response_body, headers=response_headers)

    def _record(self, event: ReceivedEvent) -> WebhookRecord:
        summary = event.summary_fields()
        meta: dict[str, Any] = {
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
        if event.content_encoding:
            meta["content_encoding"] = event.content_encoding
        if event.filtered:
            meta["filtered"] = True
        if event.forward:
            meta["forward"] = event.forward.to_dict()
        if event.external_ids:
            meta["external_forwards"] = event.external_ids

        def text(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        return WebhookRecord(
            id=event.id,
            created_at=event.created_at,
            direction="received",
            env=self.options.env,
            type=summary["type"] if not self.options.external else "external",
            body=event.body,
            headers=event.headers,
            status=RECEIVED,
            sync_name=text(summary["sync_name"]),
            model=text(summary["model"]),
            connection_id=text(summary["connection_id"]),
            provider_config_key=text(summary["provider_config_key"]),
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

    async def _proxy(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[ForwardResult, tuple[int, bytes, dict[str, str]]]:
        """Send the webhook on to the app, unchanged, with the httpx sender (in a worker
        thread); the app's whole answer (up to --max-body) goes back to the sender."""
        url = self.options.forward_to or ""
        if self._sender is None:
            from nango_cli.delivery.httpx_sender import HttpxSender

            self._sender = HttpxSender()
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
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")
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
            hmac=signatures.Verdict(vocabulary.HMAC_HEADER, "missing"),
            legacy=signatures.Verdict(vocabulary.LEGACY_HEADER, "missing"),
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
        from nango_cli.app import fire

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
        fires = [forward]
        if opts.trigger_sync:
            sync = fire.FireOptions(
                kind="sync",
                sync_name=opts.trigger_sync,
                integration=opts.integration,
                connection_id=opts.connection_id,
                sync_type="WEBHOOK",
                urls=[opts.forward_to] if opts.forward_to else [],
            )
            fires.append(sync)
        ids: list[str] = []
        for one in fires:
            # The fire service: the sync's records are written before its webhook goes.
            fired = fire.fire(one, self.settings, self.store, self.on_event)
            ids.extend(s.record.id for s in fired.sent)
        return ids


class _TooLarge(Exception):
    pass


class _OverBudget(Exception):
    pass


def _closing(status: int, message: str, retry_after: bool = False) -> web.StreamResponse:
    from aiohttp import web

    headers = {"Connection": "close"}
    if retry_after:
        headers["Retry-After"] = "1"
    return web.json_response({"error": message}, status=status, headers=headers)


_REFUSAL_BODY = b'{"error": "too many connections; retry soon"}'
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: "
    + str(len(_REFUSAL_BODY)).encode()
    + b"\r\n\r\n"
    + _REFUSAL_BODY
)


class _Refuse(asyncio.Protocol):
    """A connection over the cap: answered 503 at once and closed, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's connection handler, passed every call, so the listener knows when a
    connection it counted is gone."""

    __slots__ = ("inner", "listener")

    def __init__(self, inner: Any, listener: Listener) -> None:
        self.inner = inner
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener._open -= 1
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


class _NoticeLogger(logging.Logger):
    """aiohttp's server logger, turned into notices: a malformed request is one line
    (kind "malformed"), never a traceback on the developer's terminal."""

    def __init__(self, listener: Listener) -> None:
        super().__init__("nango-hooks.listener")
        self.listener = listener
        self.propagate = False

    def handle(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        exc = record.exc_info[1] if record.exc_info else None
        detail = str(getattr(exc, "message", "") or exc or record.getMessage())
        self.listener.notice("malformed", f"answered 400: {detail.splitlines()[0][:200]}")


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


def decode_body(
    body: bytes, encoding: str | None, limit: int
) -> tuple[bytes | None, schema.Note | None]:
    """A Content-Encoding'd body decoded for showing and checking (never for verifying:
    signatures are over the bytes received), within `limit` bytes."""
    if not encoding or encoding.strip().lower() in ("", "identity"):
        return None, None
    name = encoding.strip().lower()
    import zlib

    if name in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif name == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        return None, schema.Note(
            "warning", f"body is {encoding}-encoded: shown as received, not decoded"
        )
    try:
        decoder = zlib.decompressobj(wbits)
        decoded = decoder.decompress(body, limit)
        if decoder.unconsumed_tail:
            return None, schema.Note("problem", f"decoded body is larger than {limit} bytes")
    except zlib.error:
        if name == "deflate":  # some senders send raw deflate, without the zlib header
            try:
                decoded = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, limit)
            except zlib.error:
                return None, schema.Note("problem", f"body is not valid {encoding} data")
        else:
            return None, schema.Note("problem", f"body is not valid {encoding} data")
    return decoded, schema.Note(
        "info", f"body is {encoding}-encoded ({len(body)} bytes): stored and verified as received"
    )


def is_loopback(host: str) -> bool:
    from nango_cli.delivery.transport import is_loopback_host

    return is_loopback_host(host)
