"""A real Nango webhook handler, written as users write them (aiohttp), with a switch
for each bug users make. Scenarios, `check`, `dev` and the pytest plugin are judged
against it.

What a correct one does: verify X-Nango-Hmac-Sha256 over the raw body (401 if not),
answer unknown types with 200, and on a successful sync webhook fetch the changed
records from NANGO_HOST (GET /records with the webhook's modifiedAfter, page until
next_cursor is null), apply them to its own copy (deletions remove), and answer 200
once they are applied (500 if the fetch failed: Nango then retries). Auth deletions
drop the connection's records. Its copy is served at GET /state.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web


@dataclass
class Bugs:
    no_verify: bool = False  # accepts any signature
    secret_key: str | None = None  # calls the API with this key instead of the right one
    full_fetch: bool = False  # ignores modifiedAfter: every record, every time
    first_page_only: bool = False  # stops after one page
    ignore_deletions: bool = False  # keeps records Nango marked deleted
    crash_on_unknown_type: bool = False  # 500 for a type it does not know
    crash_on_sync_error: bool = False  # 500 for a failed sync's webhook
    wrong_connection: bool = False  # fetches another connection's records
    answer_first: bool = False  # 200 before fetching (the fetch failing is then silent)
    never_fetch: bool = False  # answers 200 and reads nothing
    fail_duplicates: bool = False  # 500 for a body it has seen (Nango's retries resend it)
    stop_on_short_page: bool = False  # takes a page shorter than `limit` for the last
    swallow_errors: bool = False  # 200 although its fetch failed (the records are lost)
    verify_late: bool = False  # fetches first, verifies after (then answers 401)
    stale_modified_after: bool = False  # fetches from 13 months back (Nango refuses it)
    page_limit: int = 2
    # Legitimate designs, not bugs: each must pass everything the correct handler passes.
    retry_inside: bool = False  # retries a failed fetch itself (then answers 200)
    resume_from_cursor: bool = False  # fetches from the last record's cursor it processed


@dataclass
class HandlerState:
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    # Each fetch: (connection, model, ids it upserted, ids it deleted).
    applied: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)
    # (connection, model) -> the cursor of the last record processed (resume_from_cursor)
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)


class PyHandler:
    """The handler on 127.0.0.1, an ephemeral port, in a thread of its own."""

    def __init__(
        self, signing_key: str, nango_host: str, secret_key: str, bugs: Bugs | None = None
    ):
        self.signing_key = signing_key
        self.nango_host = nango_host.rstrip("/")
        self.secret_key = secret_key
        self.bugs = bugs or Bugs()
        self.state = HandlerState()
        self._bodies: set[bytes] = set()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- the handler

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        expected = hmac.new(self.signing_key.encode(), raw, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Nango-Hmac-Sha256", "")
        valid = hmac.compare_digest(given, expected)
        if self.bugs.verify_late and not valid:
            body = json.loads(raw)
            if body.get("type") == "sync" and body.get("success"):
                await self._fetch_quietly(body)  # acts on it, then refuses it
            return web.json_response({"error": "invalid signature"}, status=401)
        if not self.bugs.no_verify and not valid:
            return web.json_response({"error": "invalid signature"}, status=401)
        if self.bugs.fail_duplicates and raw in self._bodies:
            return web.json_response({"error": "already processed"}, status=500)
        self._bodies.add(raw)
        body = json.loads(raw)
        self.state.seen.append(body)
        kind = body.get("type")
        if kind == "sync":
            if not body.get("success", True):
                if self.bugs.crash_on_sync_error:
                    return web.json_response({"error": "no error handling"}, status=500)
                return web.json_response({"ok": True})
            if self.bugs.never_fetch:
                return web.json_response({"ok": True})
            if self.bugs.answer_first:
                asyncio.get_running_loop().create_task(self._fetch_quietly(body))
                return web.json_response({"ok": True})
            tries = 3 if self.bugs.retry_inside else 1
            for attempt in range(tries):
                try:
                    await self.fetch(body)
                    break
                except FetchFailed as exc:
                    self.state.errors.append(str(exc))
                    if attempt + 1 < tries:
                        continue
                    if self.bugs.swallow_errors:
                        return web.json_response({"ok": True})
                    return web.json_response({"error": f"fetch failed: {exc}"}, status=500)
            return web.json_response({"ok": True})
        if kind == "auth":
            if body.get("operation") == "deletion":
                self.state.records.pop(body.get("connectionId", ""), None)
                for key in [k for k in self.state.cursors if k[0] == body.get("connectionId")]:
                    del self.state.cursors[key]
            return web.json_response({"ok": True})
        if kind in ("forward", "async_action"):
            return web.json_response({"ok": True})
        if self.bugs.crash_on_unknown_type:
            return web.json_response({"error": f"unknown type {kind}"}, status=500)
        return web.json_response({"ok": True, "ignored": kind})

    async def _fetch_quietly(self, body: dict[str, Any]) -> None:
        try:
            await self.fetch(body)
        except FetchFailed as exc:
            self.state.errors.append(str(exc))

    async def fetch(self, body: dict[str, Any]) -> None:
        connection = body["connectionId"]
        if self.bugs.wrong_connection:
            connection = connection + "-other"
        params: dict[str, str] = {"model": body["model"], "limit": str(self.bugs.page_limit)}
        resume_key = (body["connectionId"], body["model"])
        resume = self.state.cursors.get(resume_key) if self.bugs.resume_from_cursor else None
        if resume:
            params["cursor"] = resume
        elif self.bugs.stale_modified_after:
            long_ago = datetime.now(UTC) - timedelta(days=400)
            params["modified_after"] = long_ago.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        elif body.get("modifiedAfter") and not self.bugs.full_fetch:
            params["modified_after"] = body["modifiedAfter"]
        headers = {
            "Authorization": f"Bearer {self.bugs.secret_key or self.secret_key}",
            "Connection-Id": connection,
            "Provider-Config-Key": body["providerConfigKey"],
        }
        mine = self.state.records.setdefault(body["connectionId"], {})
        upserted: list[str] = []
        deleted: list[str] = []
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while True:
                try:
                    async with session.get(
                        f"{self.nango_host}/records", params=params, headers=headers
                    ) as reply:
                        page = await reply.json(content_type=None)
                        if reply.status != 200:
                            raise FetchFailed(f"GET /records answered {reply.status}")
                except OSError as exc:
                    raise FetchFailed(f"cannot reach {self.nango_host}: {exc}") from exc
                for record in page["records"]:
                    meta = record["_nango_metadata"]
                    self.state.cursors[resume_key] = meta["cursor"]
                    key = f"{body['model']}:{record['id']}"
                    if meta.get("deleted_at") and not self.bugs.ignore_deletions:
                        mine.pop(key, None)
                        deleted.append(str(record["id"]))
                    elif not meta.get("deleted_at"):
                        mine[key] = record
                        upserted.append(str(record["id"]))
                cursor = page.get("next_cursor")
                short = len(page["records"]) < self.bugs.page_limit
                if (
                    not cursor
                    or self.bugs.first_page_only
                    or (self.bugs.stop_on_short_page and short)
                ):
                    self.state.applied.append((connection, body["model"], upserted, deleted))
                    return
                params["cursor"] = cursor

    async def state_view(self, request: web.Request) -> web.Response:
        records = {c: sorted(r) for c, r in self.state.records.items()}
        return web.json_response({"records": records, "errors": self.state.errors})

    async def model_state(self, request: web.Request) -> web.Response:
        """GET /state/{connection}/{model}: the ids of the records it holds."""
        held = self.state.records.get(request.match_info["connection"], {})
        prefix = request.match_info["model"] + ":"
        return web.json_response(sorted(k[len(prefix) :] for k in held if k.startswith(prefix)))

    # -- running it

    def __enter__(self) -> PyHandler:
        ready = threading.Event()

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/state", self.state_view)
            app.router.add_get("/state/{connection}/{model}", self.model_state)
            app.router.add_post("/{path:.*}", self.webhook)  # wherever the URL points
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}/webhooks"

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "the handler did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._runner is not None
        runner = self._runner
        asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)

    def record_ids(self, connection: str) -> set[str]:
        return set(self.state.records.get(connection, {}))


class FetchFailed(Exception):
    pass
