"""`nango-hooks api`: the part of Nango's API a webhook handler calls, served locally.

Shapes follow @nangohq/types 0.71.10 and the way @nangohq/node 0.71.10 calls
them (docs/protocol.md, The API a handler calls back); the data is what the
fired webhooks announced (storage/records.py). Status codes and error
bodies are Nango's server's: `{"error": {"code", "message"}}`, 400 for a
malformed request (never a 5xx for a client's mistake).

Every request is answered, then recorded in the history store in batches (one
commit per batch, off the answer's path) and reported to `on_request`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.records import new_id
from nango_cli.servers.binding import bind
from nango_cli.storage import actions, api_log, connections, record_pages, records
from nango_cli.storage.api_log import ApiRequest
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import format_timestamp, now_timestamp

if TYPE_CHECKING:
    from aiohttp import web

# Internal endpoints for nango-hooks itself (check): not part of Nango's API.
INTERNAL = "/_nango-hooks"
_FLUSH_INTERVAL = 0.05
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_CONNECTION_QUERY = {"provider_config_key", "force_refresh", "refresh_token"}
_CONNECTION_QUERY |= {"refresh_github_app_jwt_token"}
_RECORDS_QUERY = {"model", "variant", "delta", "modified_after", "limit", "filter", "cursor", "ids"}


@dataclass
class ApiOptions:
    host: str = "127.0.0.1"
    port: int = 3003
    secret_key: str | None = None
    env: str = "dev"
    # Called with (connection_id, provider_config_key, sync names) on POST /sync/trigger,
    # in a worker thread: `--fire-on-trigger` fires the syncs' completion webhooks.
    on_trigger: Callable[[str, str, list[str]], None] | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            error["errors"] = self.errors
        return json.dumps({"error": error}).encode()


def _invalid(where: str, problems: list[tuple[str, str]]) -> ApiError:
    code = {"query": "invalid_query_params", "headers": "invalid_headers", "body": "invalid_body"}[
        where
    ]
    errors = [{"code": "invalid", "message": message, "path": [path]} for path, message in problems]
    return ApiError(400, code, "; ".join(f"{p}: {m}" for p, m in problems), errors)


def normalize_timestamp(value: str, name: str) -> str:
    """An ISO datetime (as Nango's validation takes it) in the stored form, to compare."""
    if not _ISO.match(value):
        raise _invalid("query", [(name, "must be an ISO 8601 datetime, e.g. 2026-11-01T00:00:00Z")])
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if moment < datetime.now(UTC) - timedelta(days=365):
        raise _invalid("query", [(name, "must be within the last 12 months")])
    return format_timestamp(moment)


class Handled:
    """What one request did, for the log."""

    __slots__ = ("connection_id", "model", "next_cursor", "provider_config_key", "record_count")

    def __init__(self) -> None:
        self.connection_id: str | None = None
        self.provider_config_key: str | None = None
        self.model: str | None = None
        self.record_count: int | None = None
        self.next_cursor: str | None = None


class ApiServer:
    def __init__(
        self,
        options: ApiOptions,
        store: Store,
        on_request: Callable[[ApiRequest], None] = lambda r: None,
    ) -> None:
        self.options = options
        self.store = store
        self.on_request = on_request
        self._pending: list[ApiRequest] = []
        self._stop: asyncio.Event | None = None
        self.served = 0
        self.url = ""

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self, on_ready: Callable[[str], None] | None = None) -> int:
        from aiohttp import web

        self._stop = asyncio.Event()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        assert runner.server is not None
        server, self.url = await bind(
            runner.server, runner, self.options.host, self.options.port, backlog=1024
        )
        flusher = asyncio.create_task(self._flush_forever())
        if on_ready:
            on_ready(self.url)
        try:
            await self._stop.wait()
        finally:
            flusher.cancel()
            server.close()
            await runner.cleanup()
            self._flush()
        return self.served

    # ------------------------------------------------------------ the log

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL)
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            api_log.record_requests(self.store, batch)
        except Exception:  # the log is best effort; the answers were already given
            self._pending = []

    # ------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        started = time.perf_counter()
        handled = Handled()
        body_text: str | None = None
        try:
            self._authenticate(request)
            status, payload, body_text = await self._route(request, handled)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
            error_code: str | None = exc.code
        except web.HTTPException:
            raise  # aiohttp's own answers (413 for a body over the limit)
        except Exception as exc:  # a fault of ours, never the client's: still JSON, no trace
            error = ApiError(500, "server_error", f"nango-hooks api failed ({type(exc).__name__})")
            status, payload, error_code = 500, error.body(), error.code
        else:
            error_code = None
        self.served += 1
        entry = ApiRequest(
            id=new_id(),
            created_at=now_timestamp(),
            method=request.method,
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            status=status,
            connection_id=handled.connection_id,
            provider_config_key=handled.provider_config_key,
            model=handled.model,
            record_count=handled.record_count,
            next_cursor=handled.next_cursor,
            error_code=error_code,
            body=body_text,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        self._pending.append(entry)
        self.on_request(entry)
        return web.Response(status=status, body=payload, content_type="application/json")

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization")
        if header is None:
            raise ApiError(
                401, "missing_auth_header", "Authentication failed: no Authorization header"
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401,
                "malformed_auth_header",
                "Authentication failed: expected 'Bearer <secret key>'",
            )
        expected = self.options.secret_key
        if expected is not None and not _same(key.strip(), expected):
            raise ApiError(
                401,
                "unknown_account",
                "No environment found with this secret key (nango-hooks checks the "
                f"secret_key setting of environment {self.options.env!r})",
            )

    async def _route(self, request: web.Request, handled: Handled) -> tuple[int, bytes, str | None]:
        method, path = request.method, request.path
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts == ["records"]:
            return 200, self._records(request, handled), None
        if method == "GET" and parts == ["sync", "records"]:
            return 200, self._legacy_records(request, handled), None
        if method == "GET" and parts in (["connections"], ["connection"]):
            return 200, self._connections(request), None
        if method == "GET" and len(parts) == 2 and parts[0] in ("connections", "connection"):
            return 200, self._connection(request, parts[1], handled), None
        if method == "GET" and len(parts) == 2 and parts[0] == "action":
            result = actions.action_result(self.store, parts[1])
            if result is None:
                raise ApiError(404, "not_found", f"No async action with id {parts[1]!r}")
            return 200, result, None
        if method == "POST" and parts == ["sync", "trigger"]:
            text = (await request.read()).decode("utf-8", "replace")
            return 200, self._trigger(request, text, handled), text
        if method == "PATCH" and parts == ["records", "prune"]:
            text = (await request.read()).decode("utf-8", "replace")
            return 200, self._prune(request, text, handled), text
        if parts[:1] == [INTERNAL.strip("/")]:
            return await self._internal(request, parts[1:])
        raise ApiError(
            404,
            "not_found",
            f"nango-hooks api does not serve {method} {path} (see `nango-hooks api --help`)",
        )

    # -- records

    def _connection_headers(self, request: web.Request, handled: Handled) -> tuple[str, str]:
        connection_id = request.headers.get("Connection-Id")
        key = request.headers.get("Provider-Config-Key")
        problems = [
            (name, "required")
            for name, value in (("connection-id", connection_id), ("provider-config-key", key))
            if not value
        ]
        if problems:
            raise _invalid("headers", problems)
        assert connection_id is not None and key is not None
        handled.connection_id, handled.provider_config_key = connection_id, key
        if connections.get_connection(self.store, connection_id, key) is None:
            raise ApiError(
                400,
                "unknown_connection",
                "Provided ConnectionId and ProviderConfigKey does not match a valid connection",
            )
        return connection_id, key

    def _records(self, request: web.Request, handled: Handled) -> bytes:
        query = request.query
        unknown = sorted(set(query) - _RECORDS_QUERY)
        problems = [(name, "unrecognized parameter") for name in unknown]
        model = query.get("model")
        if not model:
            problems.append(("model", "required"))
        limit = record_pages.DEFAULT_LIMIT
        if "limit" in query:
            text = query["limit"]
            if not text.isdigit() or not 1 <= int(text) <= record_pages.MAX_LIMIT:
                problems.append(("limit", f"must be a number from 1 to {record_pages.MAX_LIMIT}"))
            else:
                limit = int(text)
        actions: list[str] = []
        if "filter" in query:
            actions = [a.strip().upper() for a in query["filter"].split(",")]
            if not all(a in ("ADDED", "UPDATED", "DELETED") for a in actions) or len(actions) > 2:
                problems.append(("filter", "added, updated, deleted, or two of them comma-joined"))
        ids = query.getall("ids", [])
        if len(ids) > 100 or any(not 1 <= len(i) <= 256 for i in ids):
            problems.append(("ids", "at most 100 ids of 1 to 256 characters"))
        after = 0
        cursor = query.get("cursor")
        if cursor is not None:
            decoded = record_pages.decode_cursor(cursor) if 1 <= len(cursor) <= 1000 else None
            if decoded is None:
                problems.append(("cursor", "not a cursor this API gave (use next_cursor as is)"))
            else:
                after = decoded
        if problems:
            raise _invalid("query", problems)
        modified_after = query.get("modified_after") or query.get("delta")
        if modified_after:
            name = "modified_after" if query.get("modified_after") else "delta"
            modified_after = normalize_timestamp(modified_after, name)
        assert model is not None
        handled.model = model
        connection_id, key = self._connection_headers(request, handled)
        page = record_pages.records_page(
            self.store,
            connection_id,
            key,
            model,
            query.get("variant") or "base",
            modified_after,
            limit,
            actions,
            after,
            ids,
        )
        handled.record_count, handled.next_cursor = page.record_count, page.next_cursor
        return page.body

    def _legacy_records(self, request: web.Request, handled: Handled) -> bytes:
        query = request.query
        model = query.get("model")
        problems = [] if model else [("model", "required")]
        offset = query.get("offset", "0")
        limit = query.get("limit")
        if not offset.isdigit():
            problems.append(("offset", "must be a non-negative number"))
        if limit is not None and (not limit.isdigit() or int(limit) < 1):
            problems.append(("limit", "must be a positive number"))
        sort_by = query.get("sort_by", "createdAt")
        order = query.get("order", "asc")
        if sort_by not in ("createdAt", "updatedAt"):
            problems.append(("sort_by", "createdAt or updatedAt"))
        if order not in ("asc", "desc"):
            problems.append(("order", "asc or desc"))
        if problems:
            raise _invalid("query", problems)
        delta = query.get("delta") or query.get("modified_after")
        if delta:
            delta = normalize_timestamp(delta, "delta")
        assert model is not None
        handled.model = model
        connection_id, key = self._connection_headers(request, handled)
        body, count = record_pages.legacy_records(
            self.store,
            connection_id,
            key,
            model,
            delta,
            int(offset),
            int(limit) if limit else None,
            sort_by,
            order,
            query.get("include_nango_metadata", "false").lower() == "true",
        )
        handled.record_count = count
        return body

    def _prune(self, request: web.Request, text: str, handled: Handled) -> bytes:
        body = _json_body(text)
        model, cursor = body.get("model"), body.get("until_cursor")
        limit = body.get("limit")
        problems = []
        if not isinstance(model, str) or not model:
            problems.append(("model", "required"))
        seq = record_pages.decode_cursor(cursor) if isinstance(cursor, str) else None
        if seq is None:
            problems.append(("until_cursor", "a cursor this API gave"))
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            problems.append(("limit", "must be a positive number"))
        if problems:
            raise _invalid("body", problems)
        assert isinstance(model, str) and seq is not None
        handled.model = model
        connection_id, key = self._connection_headers(request, handled)
        variant = str(body["variant"]) if isinstance(body.get("variant"), str) else "base"
        count, more = records.prune(self.store, connection_id, key, model, variant, seq, limit)
        handled.record_count = count
        return json.dumps({"count": count, "has_more": more}).encode()

    # -- connections, actions, syncs

    def _connections(self, request: web.Request) -> bytes:
        query = request.query
        limit_text, page_text = query.get("limit", "100"), query.get("page", "0")
        if not limit_text.isdigit() or not page_text.isdigit():
            raise _invalid("query", [("limit", "limit and page must be numbers")])
        limit = min(max(int(limit_text), 1), 1000)
        found = connections.list_connections(
            self.store,
            connection_id=query.get("connectionId"),
            integration=query.get("integrationId"),
            end_user_id=query.get("endUserId"),
            limit=limit,
            offset=int(page_text) * limit,
        )
        return json.dumps({"connections": [c.public() for c in found]}).encode()

    def _connection(self, request: web.Request, connection_id: str, handled: Handled) -> bytes:
        query = request.query
        key = query.get("provider_config_key")
        problems = [
            (name, "unrecognized parameter") for name in sorted(set(query) - _CONNECTION_QUERY)
        ]
        if not key:
            problems.append(("provider_config_key", "required"))
        if problems:
            raise _invalid("query", problems)
        assert key is not None
        handled.connection_id, handled.provider_config_key = connection_id, key
        if not connections.known_integration(self.store, key):
            raise ApiError(400, "unknown_provider_config", "Provider does not exists")
        found = connections.get_connection(self.store, connection_id, key)
        if found is None:
            raise ApiError(404, "not_found", "Failed to find connection")
        return json.dumps(found.full()).encode()

    def _trigger(self, request: web.Request, text: str, handled: Handled) -> bytes:
        body = _json_body(text)
        syncs = body.get("syncs")
        connection_id = body.get("connection_id") or request.headers.get("Connection-Id")
        key = body.get("provider_config_key") or request.headers.get("Provider-Config-Key")
        problems = []
        if not isinstance(syncs, list) or not all(
            isinstance(s, str) or (isinstance(s, dict) and isinstance(s.get("name"), str))
            for s in syncs
        ):
            problems.append(("syncs", "a list of sync names (or {name, variant})"))
        if not key:
            raise ApiError(400, "missing_provider_config_key", "Missing provider_config_key")
        if problems:
            raise _invalid("body", problems)
        assert isinstance(syncs, list)
        handled.connection_id, handled.provider_config_key = connection_id, str(key)
        if (
            connection_id
            and connections.get_connection(self.store, connection_id, str(key)) is None
        ):
            raise ApiError(400, "unknown_connection", "Unknown connection")
        names = [s if isinstance(s, str) else s["name"] for s in syncs]
        if self.options.on_trigger is not None and connection_id:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, self.options.on_trigger, connection_id, str(key), names)
        return b'{"success":true}'

    # -- for nango-hooks itself

    async def _internal(
        self, request: web.Request, parts: list[str]
    ) -> tuple[int, bytes, str | None]:
        if request.method == "GET" and parts == ["requests"]:
            self._flush()
            since = request.query.get("since")
            found = api_log.api_requests(self.store, since=since, limit=1000)
            return 200, json.dumps([r.to_dict() for r in found]).encode(), None
        if request.method == "POST" and parts == ["changes"]:
            text = (await request.read()).decode("utf-8", "replace")
            body = _json_body(text)
            try:
                change = records.Change(
                    connection_id=str(body["connection_id"]),
                    provider_config_key=str(body["provider_config_key"]),
                    model=str(body["model"]),
                    variant=str(body.get("variant") or "base"),
                    added=int(body.get("added", 0)),
                    updated=int(body.get("updated", 0)),
                    deleted=int(body.get("deleted", 0)),
                    modified_after=str(body["modified_after"]),
                )
            except (KeyError, TypeError, ValueError):
                raise _invalid(
                    "body",
                    [
                        (
                            "change",
                            "connection_id, provider_config_key, model, modified_after and counts",
                        )
                    ],
                ) from None
            connections.ensure_connection(
                self.store, change.connection_id, change.provider_config_key
            )
            applied = records.apply_changes(self.store, [change], {})
            done = applied[0]
            return (
                200,
                json.dumps(
                    {"added": done.added, "updated": done.updated, "deleted": done.deleted}
                ).encode(),
                None,
            )
        if request.method == "GET" and parts == ["info"]:
            return (
                200,
                json.dumps({"env": self.options.env, "store": str(self.store.path)}).encode(),
                None,
            )
        raise ApiError(404, "not_found", f"no internal endpoint {request.path}")


def _json_body(text: str) -> dict[str, Any]:
    from nango_cli.protocol.serialization import parse_json

    try:
        body = parse_json(text) if text else {}
    except ValueError:
        raise _invalid("body", [("body", "not valid JSON")]) from None
    if not isinstance(body, dict):
        raise _invalid("body", [("body", "must be a JSON object")])
    return body


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())
