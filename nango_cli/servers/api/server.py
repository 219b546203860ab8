"""`nango-hooks api`: the part of Nango's API a webhook handler calls, served locally.

Built on the servers' skeleton (servers/skeleton.py: limits, Host check, notices).
Shapes follow @nangohq/types 0.71.10 and the way @nangohq/node 0.71.10 calls them;
the data is what the fired webhooks announced (storage/records.py). Errors are
Nango's server's, `{"error": {"code", "message"}}`. Every request is answered, then
logged (log.py) and reported to `on_request`, except the internal ones.

`/_nango-hooks/…` serves nango-hooks itself (check's evidence, scenario faults,
seeding records) and needs this process's token (`internal_token`, in the running
file only the user can read), never any bearer.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nango_cli.app import api_effects
from nango_cli.app.api_effects import OnCaused
from nango_cli.app.settings import Settings
from nango_cli.delivery.history_rows import new_id
from nango_cli.servers.api import routes, sync_routes
from nango_cli.servers.api.causes import Causes
from nango_cli.servers.api.faults import Faults, error_for
from nango_cli.servers.api.log import RequestLog, redact_query
from nango_cli.servers.api.routes import Handled, Query
from nango_cli.servers.api.validation import (
    ApiError,
    invalid,
    json_body,
    rate_limited,
    same_secret,
    text_value,
)
from nango_cli.servers.limits import Limits
from nango_cli.servers.skeleton import LocalServer, Notice, request_body
from nango_cli.storage import actions, api_log, syncs
from nango_cli.storage.api_log import ApiRequest
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp

if TYPE_CHECKING:
    from aiohttp import web

INTERNAL = "_nango-hooks"
TOKEN_HEADER = "X-Nango-Hooks-Token"
# Bodies of Nango's API requests are small: a sync list, a prune.
MAX_BODY = 1024 * 1024
BODY_BUDGET = 16 * 1024 * 1024
# Records one internal seeding request may make (check's are a handful).
MAX_SEEDED = 10_000


@dataclass
class ApiOptions:
    host: str = "127.0.0.1"
    port: int = 0  # any free one; `api` and `dev` pass the api_port setting
    # The environment's secret key: the bearer every request must carry (None: any),
    # fixed or read afresh for each request (the config file may change meanwhile).
    secret_key: str | Callable[[], str | None] | None = None
    env: str = "dev"
    # The syncs the project and the config declare for an integration (the store adds
    # those a sync webhook named): /sync/* refuse the others as Nango does.
    declared_syncs: Callable[[str], set[str]] = lambda key: set()
    # Where the webhooks a call causes go (app/api_effects.py), called in a worker
    # thread; None: webhooks are off and a trigger changes nothing.
    on_caused: OnCaused | None = None
    # The settings the caused webhooks are planned with (the sync's models).
    settings: Callable[[], Settings] | None = None
    # POST /environment/webhook-signing-key/rotate: makes and keeps a new key, returns
    # it (None: the environment has none); None: not served here.
    rotate_signing_key: Callable[[], str | None] | None = None
    # What POST /action/trigger gives for an action, by name (`--action-result`).
    action_results: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()
    internal_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    limits: Limits = field(
        default_factory=lambda: Limits(max_body=MAX_BODY, body_budget=BODY_BUDGET)
    )


class ApiServer(LocalServer):
    name = "api"

    def __init__(
        self,
        options: ApiOptions,
        store: Store,
        on_request: Callable[[ApiRequest], None] = lambda r: None,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> None:
        super().__init__(
            options.host,
            options.port,
            options.limits,
            on_notice,
            allowed_hosts=options.allowed_hosts,
        )
        self.options = options
        self.store = store
        self.on_request = on_request
        self.faults = Faults()
        self.log = RequestLog(store.path, lambda text: self.notice("log", text))
        self.served = 0
        self._seeding: Any = None
        self.causes = Causes(options.on_caused, self.notice)

    @property
    def secret_key(self) -> str | None:
        source = self.options.secret_key
        return source() if callable(source) else source

    # ------------------------------------------------------------ skeleton

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        from aiohttp import web

        return web.Response(
            status=status,
            body=ApiError(status, code, message).body(),
            content_type="application/json",
        )

    async def started(self) -> None:
        self.log.start()

    async def closing(self) -> None:
        await self.log.close()

    def outcome(self) -> int:
        return self.served

    # ------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        started = time.perf_counter()
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == [INTERNAL]:
            return await self._internal(request, parts[1:])
        handled = Handled()
        body_text: str | None = None
        error_code: str | None = None
        # Once per request: reading it may stat the config file (LiveSettings).
        secret = self.secret_key
        headers: dict[str, str] = {}
        try:
            self._authenticate(request, secret)
            status, payload, body_text = await self._route(request, parts, handled)
        except ApiError as exc:
            status, payload, error_code, headers = exc.status, exc.body(), exc.code, exc.headers
            # A refused request is logged with what it asked for: the judges must see a
            # read that failed, and a call a handler made for a connection it was told of.
            handled.connection_id = handled.connection_id or request.headers.get("Connection-Id")
            handled.provider_config_key = handled.provider_config_key or request.headers.get(
                "Provider-Config-Key"
            )
            handled.model = handled.model or request.query.get("model")
        self.served += 1
        entry = ApiRequest(
            id=new_id(),
            created_at=now_timestamp(),
            method=request.method,
            path=request.path,
            query=redact_query({k: request.query.getall(k) for k in request.query}, secret),
            status=status,
            connection_id=handled.connection_id,
            provider_config_key=handled.provider_config_key,
            model=handled.model,
            record_count=handled.record_count,
            next_cursor=handled.next_cursor,
            error_code=error_code,
            body=body_text,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            fault=handled.fault,
        )
        self.log.add(entry)
        self.on_request(entry)
        return web.Response(
            status=status, body=payload, content_type="application/json", headers=headers
        )

    def _authenticate(self, request: web.Request, expected: str | None) -> None:
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
        if expected is not None and not same_secret(key.strip(), expected):
            raise ApiError(
                401,
                "unknown_account",
                "No environment found with this secret key (nango-hooks checks the "
                f"secret_key setting of environment {self.options.env!r})",
            )

    @staticmethod
    async def _text(request: web.Request) -> str:
        """The body the skeleton read (within the limits), as text."""
        return request_body(request).decode("utf-8", "replace")

    async def _route(
        self, request: web.Request, parts: list[str], handled: Handled
    ) -> tuple[int, bytes, str | None]:
        method = request.method
        query = Query(list(request.query.items()))
        headers = request.headers
        if method == "GET" and parts in (["records"], ["sync", "records"]):
            status, latency = self.faults.take()
            handled.fault = self.faults.played(status, latency)
            if latency:
                await asyncio.sleep(latency)
            if status == 429:
                raise rate_limited(request.method, request.path)
            if status is not None:
                code, message = error_for(status)
                raise ApiError(status, code, message)
            if parts == ["records"]:
                return (
                    200,
                    routes.get_records(self.store, query, headers, handled, self.faults),
                    None,
                )
            return 200, routes.get_legacy_records(self.store, query, headers, handled), None
        if method == "GET" and parts in (["connections"], ["connection"]):
            return 200, routes.list_connections(self.store, query), None
        if method == "GET" and len(parts) == 2 and parts[0] in ("connections", "connection"):
            return 200, routes.get_connection(self.store, parts[1], query, handled), None
        if method == "GET" and len(parts) == 2 and parts[0] == "action":
            return 200, routes.get_action(self.store, parts[1]), None
        if parts[:1] == ["sync"] and len(parts) == 2:
            return await self._sync(request, parts[1], query, handled)
        if len(parts) == 2 and parts[0] in ("connections", "connection"):
            if method == "DELETE":
                found = routes.delete_connection(self.store, parts[1], query, handled)
                self.causes.add(lambda: [api_effects.deletion_webhook(found)])
                return 200, b'{"success":true}', None
            if method == "PATCH":
                text = await self._text(request)
                return (
                    200,
                    routes.patch_connection(self.store, parts[1], query, text, handled),
                    text,
                )
        if method == "POST" and parts == ["environment", "webhook-signing-key", "rotate"]:
            status, rotated = await self._rotate(query)
            return status, rotated, None
        if method == "POST" and parts == ["action", "trigger"]:
            text = await self._text(request)
            return await self._action(request, text, handled)
        if method == "PATCH" and parts == ["records", "prune"]:
            text = await self._text(request)
            return 200, routes.prune(self.store, text, headers, handled), text
        raise self._not_served(request)

    async def _sync(
        self, request: web.Request, verb: str, query: Query, handled: Handled
    ) -> tuple[int, bytes, str | None]:
        declared = self.options.declared_syncs
        if request.method == "GET" and verb == "status":
            body = await asyncio.to_thread(sync_routes.status, self.store, query, handled, declared)
            return 200, body, None
        if request.method != "POST" or verb not in ("trigger", "start", "pause"):
            raise self._not_served(request)
        text = await self._text(request)
        if verb == "trigger":
            asked = sync_routes.trigger_request(
                self.store, text, query, request.headers, handled, declared
            )
            settings = self.options.settings
            if settings is not None:
                self.causes.add(
                    lambda: api_effects.trigger_webhooks(
                        self.store,
                        settings(),
                        asked.connection_ids,
                        asked.provider_config_key,
                        asked.names,
                        asked.empty_cache,
                    )
                )
        else:
            asked = sync_routes.command_request(self.store, text, handled, declared)
            syncs.set_paused(
                self.store,
                asked.connection_ids,
                asked.provider_config_key,
                asked.names,
                paused=verb == "pause",
            )
        return 200, b'{"success":true}', text

    async def _action(
        self, request: web.Request, text: str, handled: Handled
    ) -> tuple[int, bytes, str | None]:
        """POST /action/trigger: with `X-Async: true`, 202 `{id, statusUrl}`, the result
        kept for GET /action/{id} and the async_action webhook sent; without, the
        result at once. nango-hooks runs no action: the result is the one `--action-result`
        gave for it, else the documented default."""
        connection_id, key = routes.connection_headers(self.store, request.headers, handled)
        body = json_body(text)
        if text_value(body.get("action_name")) is None:
            raise invalid("body", [("action_name", "required, as text")])
        result = self.options.action_results.get(str(body["action_name"]))
        if request.headers.get("X-Async", "").lower() != "true":
            answer = actions.DEFAULT_ACTION_RESULT if result is None else result
            return 200, json.dumps(answer).encode(), text
        action_id = str(uuid.uuid4())
        announced = {
            "connectionId": connection_id,
            "providerConfigKey": key,
            "payload": {"id": action_id},
        }
        await asyncio.to_thread(actions.store_action_result, self.store, announced, result)
        self.causes.add(
            lambda: [api_effects.async_action_webhook(connection_id, key, action_id, result)]
        )
        answer = {"id": action_id, "statusUrl": f"/action/{action_id}"}
        return 202, json.dumps(answer).encode(), text

    async def _rotate(self, query: Query) -> tuple[int, bytes]:
        """postPublicRotateWebhookSigningKey.ts: no query; `{data: {webhook_signing_key}}`,
        404 when the environment has no key."""
        if query.items:
            raise invalid("query", [(name, "unrecognized parameter") for name in query.names()])
        rotate = self.options.rotate_signing_key
        if rotate is None:
            raise ApiError(
                404,
                "not_found",
                "this API stand-in keeps no signing key to rotate (`nango-hooks api` and "
                "`dev` rotate the environment's key in the config file)",
            )
        new = await asyncio.to_thread(rotate)
        if new is None:
            raise ApiError(404, "not_found", "This environment has no webhook signing key")
        self.notice("keys", "webhook signing key rotated: the previous key still verifies")
        return 200, json.dumps({"data": {"webhook_signing_key": new}}).encode()

    @staticmethod
    def _not_served(request: web.Request) -> ApiError:
        return ApiError(
            404,
            "not_found",
            f"nango-hooks api does not serve {request.method} {request.path} "
            "(see `nango-hooks api --help`)",
        )

    # ------------------------------------------------------------ for nango-hooks itself

    async def _internal(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        """Not part of Nango's API, never logged; needs this process's token."""
        from aiohttp import web

        given = request.headers.get(TOKEN_HEADER, "")
        if not same_secret(given, self.options.internal_token):
            return self.error_response(
                401, "unknown_account", "internal endpoints need this process's token"
            )
        try:
            data = await self._internal_route(request, parts)
        except ApiError as exc:
            return web.Response(status=exc.status, body=exc.body(), content_type="application/json")
        return web.json_response(data)

    async def _internal_route(self, request: web.Request, parts: list[str]) -> Any:
        if request.method == "GET" and parts == ["requests"]:
            await self.log.flush()
            since = request.query.get("since")
            found = await asyncio.to_thread(api_log.api_requests, self.store, since, 1000)
            return [r.to_dict() for r in found]
        if request.method == "POST" and parts == ["changes"]:
            return await self._seed(json_body(await self._text(request)))
        if request.method == "POST" and parts == ["faults"]:
            return self._set_faults(json_body(await self._text(request)))
        if request.method == "GET" and parts == ["info"]:
            return {"env": self.options.env, "store": str(self.store.path)}
        raise ApiError(404, "not_found", f"no internal endpoint {request.path}")

    async def _seed(self, body: dict[str, Any]) -> dict[str, Any]:
        """Records made as a sync would have (check seeds the ones it announces): bounded,
        and written on a connection of its own in a worker thread, so other clients are
        answered meanwhile."""
        from nango_cli.storage import connections, records

        counts = {}
        for name in ("added", "updated", "deleted"):
            value = body.get(name, 0)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_SEEDED
            ):
                raise invalid("body", [(name, f"a count from 0 to {MAX_SEEDED}")])
            counts[name] = value
        texts = {}
        for name in ("connection_id", "provider_config_key", "model", "modified_after"):
            value = body.get(name)
            if not isinstance(value, str) or not value or len(value) > 1024:
                raise invalid("body", [(name, "required, as text")])
            texts[name] = value
        change = records.Change(
            connection_id=texts["connection_id"],
            provider_config_key=texts["provider_config_key"],
            model=texts["model"],
            variant="base",
            added=counts["added"],
            updated=counts["updated"],
            deleted=counts["deleted"],
            modified_after=texts["modified_after"],
        )

        def write() -> Any:
            from nango_cli.storage.database import Database

            with Database(self.store.path) as db:
                connections.ensure_connection(db, change.connection_id, change.provider_config_key)
                return records.apply_changes(db, [change], {})[0]

        try:
            done = await asyncio.to_thread(write)
        except ValueError as exc:  # a modified_after that is not a stored timestamp
            raise invalid("body", [("modified_after", str(exc))]) from None
        return {"added": done.added, "updated": done.updated, "deleted": done.deleted}

    def _set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /_nango-hooks/faults: {"status": 500, "times": 1} | {"latency": 2.5,
        "times": 1} | {"short_pages": true} (or a page budget: 2) | {"clear": true}."""
        times = body.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 10_000:
            raise invalid("body", [("times", "a count from 0 to 10000")])
        status = body.get("status")
        if "status" in body and (
            isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
        ):
            raise invalid("body", [("status", "an HTTP error status, 400 to 599")])
        short = body.get("short_pages")
        budget = short is not None and not isinstance(short, bool)
        if budget and (not isinstance(short, int) or not 1 <= short <= 10_000):
            raise invalid("body", [("short_pages", "true, false, or records a page, 1-10000")])
        latency = body.get("latency")
        if "latency" in body:
            if isinstance(latency, bool) or not isinstance(latency, int | float):
                raise invalid("body", [("latency", "seconds, a number")])
            if not 0 <= latency <= 600:
                raise invalid("body", [("latency", "seconds, from 0 to 600")])
        # Validated whole first: a refused request changes nothing.
        self.faults.apply(
            clear=bool(body.get("clear")),
            status=status,
            latency=None if latency is None else float(latency),
            short_pages=short,
            times=times,
        )
        return self.faults.to_dict()
