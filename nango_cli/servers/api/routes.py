"""The endpoints of Nango's API a handler calls, with @nangohq/types 0.71.10's shapes
and Nango's validation (docs/protocol.md, The API a handler calls back). Each takes
the request's parts and the store and returns the body to answer 200 with, or raises
an ApiError in Nango's shape; `Handled` collects what the log shows."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from nango_cli.servers.api.faults import Faults
from nango_cli.servers.api.validation import (
    ApiError,
    invalid,
    js_number,
    json_body,
    records_since,
    text_value,
    timestamp,
    whole_number,
)
from nango_cli.storage import actions, connections, record_pages, records
from nango_cli.storage.database import Database

RECORDS_QUERY = {"model", "variant", "delta", "modified_after", "limit", "filter", "cursor", "ids"}
LEGACY_QUERY = {"model", "delta", "modified_after", "offset", "limit", "sort_by", "order"}
LEGACY_QUERY |= {"include_nango_metadata", "filter"}
CONNECTION_QUERY = {"provider_config_key", "force_refresh", "refresh_token"}
CONNECTION_QUERY |= {"refresh_github_app_jwt_token"}
MAX_OFFSET = 10**9


class Handled:
    """What one request did, for the log."""

    __slots__ = (
        "connection_id",
        "fault",
        "model",
        "next_cursor",
        "provider_config_key",
        "record_count",
    )

    def __init__(self) -> None:
        self.connection_id: str | None = None
        self.provider_config_key: str | None = None
        self.model: str | None = None
        self.record_count: int | None = None
        self.next_cursor: str | None = None
        self.fault: str | None = None


class Query:
    """A request's query string as Nango's validation reads it."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self.items = list(items)

    def names(self) -> set[str]:
        return {name for name, _ in self.items}

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]


UNKNOWN_CONNECTION = "Provided ConnectionId and ProviderConfigKey does not match a valid connection"


def connection_headers(
    store: Database, headers: Mapping[str, str], handled: Handled
) -> tuple[str, str]:
    """The Connection-Id and Provider-Config-Key headers, naming a known connection."""
    connection_id, key = connection_names(headers, handled)
    if connections.get_connection(store, connection_id, key) is None:
        raise ApiError(400, "unknown_connection", UNKNOWN_CONNECTION)
    return connection_id, key


def connection_names(headers: Mapping[str, str], handled: Handled) -> tuple[str, str]:
    """The Connection-Id and Provider-Config-Key headers, validated (the connection is
    for the caller to look up)."""
    given = {
        "connection-id": headers.get("Connection-Id"),
        "provider-config-key": headers.get("Provider-Config-Key"),
    }
    problems = [(name, "required") for name, value in given.items() if not value]
    problems += [
        (name, "must be text without control characters")
        for name, value in given.items()
        if value and text_value(value) is None
    ]
    if problems:
        raise invalid("headers", problems)
    connection_id, key = str(given["connection-id"]), str(given["provider-config-key"])
    handled.connection_id, handled.provider_config_key = connection_id, key
    return connection_id, key


def _model(query: Query, problems: list[tuple[str, str]]) -> str:
    model = query.get("model")
    if not model:
        problems.append(("model", "required"))
    elif text_value(model) is None:
        problems.append(("model", "must be text without control characters"))
    return model or ""


def _since(query: Query, names: tuple[str, str]) -> str | None:
    for name in names:
        value = query.get(name)
        if value:
            return timestamp(value, name)
    return None


_FILTER_WORDS = frozenset({"added", "updated", "deleted", "ADDED", "UPDATED", "DELETED"})


def get_records(
    store: Database, query: Query, headers: Mapping[str, str], handled: Handled, faults: Faults
) -> bytes:
    """GET /records: a page in modification order, with a cursor."""
    problems = [(name, "unrecognized parameter") for name in sorted(query.names() - RECORDS_QUERY)]
    model = _model(query, problems)
    limit = record_pages.DEFAULT_LIMIT
    if query.get("limit") is not None:
        # z.coerce.number().min(1).max(10000) (getRecords.ts): 1e3 and 0x10 are numbers.
        number = js_number(query.get("limit") or "")
        if number is None or not 1 <= number <= record_pages.MAX_LIMIT:
            problems.append(("limit", f"must be a number from 1 to {record_pages.MAX_LIMIT}"))
        else:
            limit = int(number)  # a fraction is cut (Nango's store passes it to SQL)
    actions_wanted: list[str] = []
    if query.get("filter") is not None:
        # getRecords.ts: a comma list of added|updated|deleted, each in lower or upper
        # case (not "Added"), of any length.
        parts = (query.get("filter") or "").split(",")
        if not all(p in _FILTER_WORDS for p in parts):
            problems.append(("filter", "a comma list of added, updated, deleted"))
        else:
            actions_wanted = record_pages.filter_actions(",".join(parts).upper())
    ids = query.getall("ids")
    if len(ids) > 100 or any(not 1 <= len(i) <= 256 or text_value(i) is None for i in ids):
        problems.append(("ids", "at most 100 ids of 1 to 256 characters"))
    cursor = query.get("cursor")
    if cursor is not None and not 1 <= len(cursor) <= 1000:
        problems.append(("cursor", "must be 1 to 1000 characters"))
    variant = query.get("variant") or "base"
    if text_value(variant) is None:
        problems.append(("variant", "must be text without control characters"))
    if problems:
        raise invalid("query", problems)
    modified_after = next(
        (records_since(v, n) for n in ("modified_after", "delta") if (v := query.get(n))), None
    )
    handled.model = model
    after = 0
    if cursor is not None:
        decoded = record_pages.decode_cursor(cursor)
        if decoded is None:
            connection_headers(store, headers, handled)  # an unknown connection first
            # What Nango's server answers when its records store cannot decode a cursor
            # (packages/server/lib/controllers/records/getRecords.ts): a 500, not a 400.
            raise ApiError(500, "server_error", "Failed to fetch records")
        after = decoded
    # The connection is looked up by the page's own read (one statement).
    connection_id, key = connection_names(headers, handled)
    page = record_pages.records_page(
        store,
        connection_id,
        key,
        model,
        variant,
        modified_after,
        faults.page_limit(limit),
        actions_wanted,
        after,
        ids,
        check_connection=True,
    )
    if not page.connection_known:
        raise ApiError(400, "unknown_connection", UNKNOWN_CONNECTION)
    handled.record_count, handled.next_cursor = page.record_count, page.next_cursor
    return page.body


def get_legacy_records(
    store: Database, query: Query, headers: Mapping[str, str], handled: Handled
) -> bytes:
    """GET /sync/records: the older form, a plain list, offset-paginated."""
    problems = [(name, "unrecognized parameter") for name in sorted(query.names() - LEGACY_QUERY)]
    model = _model(query, problems)
    offset = whole_number(query.get("offset", "0") or "0", 0, MAX_OFFSET)
    if offset is None:
        problems.append(("offset", f"must be a number from 0 to {MAX_OFFSET}"))
    limit_text = query.get("limit")
    limit = None if limit_text is None else whole_number(limit_text, 1, MAX_OFFSET)
    if limit_text is not None and limit is None:
        problems.append(("limit", f"must be a number from 1 to {MAX_OFFSET}"))
    sort_by = query.get("sort_by", "createdAt")
    order = query.get("order", "asc")
    if sort_by not in ("createdAt", "updatedAt"):
        problems.append(("sort_by", "createdAt or updatedAt"))
    if order not in ("asc", "desc"):
        problems.append(("order", "asc or desc"))
    if problems:
        raise invalid("query", problems)
    delta = _since(query, ("delta", "modified_after"))
    handled.model = model
    connection_id, key = connection_headers(store, headers, handled)
    body, count = record_pages.legacy_records(
        store,
        connection_id,
        key,
        model,
        delta,
        offset or 0,
        limit,
        str(sort_by),
        str(order),
        (query.get("include_nango_metadata") or "false").lower() == "true",
    )
    handled.record_count = count
    return body


def prune(store: Database, text: str, headers: Mapping[str, str], handled: Handled) -> bytes:
    """PATCH /records/prune: empty the payloads of records up to a cursor."""
    body = json_body(text)
    model, cursor, limit = body.get("model"), body.get("until_cursor"), body.get("limit")
    problems = []
    if text_value(model) is None:
        problems.append(("model", "required, as text"))
    seq = record_pages.decode_cursor(cursor) if isinstance(cursor, str) else None
    if seq is None:
        problems.append(("until_cursor", "a cursor this API gave"))
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10**6
    ):
        problems.append(("limit", "must be a number from 1 to 1000000"))
    variant = body.get("variant", "base")
    if text_value(variant) is None:
        problems.append(("variant", "must be text"))
    if problems:
        raise invalid("body", problems)
    assert isinstance(model, str) and seq is not None
    handled.model = model
    connection_id, key = connection_headers(store, headers, handled)
    count, more = records.prune(store, connection_id, key, model, str(variant), seq, limit)
    handled.record_count = count
    return json.dumps({"count": count, "has_more": more}).encode()


def list_connections(store: Database, query: Query) -> bytes:
    """GET /connections."""
    limit = whole_number(query.get("limit", "100") or "", 1, 1000)
    page = whole_number(query.get("page", "0") or "", 0, MAX_OFFSET)
    problems = []
    if limit is None:
        problems.append(("limit", "must be a number from 1 to 1000"))
    if page is None:
        problems.append(("page", f"must be a number from 0 to {MAX_OFFSET}"))
    filters = {name: query.get(name) for name in ("connectionId", "integrationId", "endUserId")}
    problems += [
        (name, "must be text without control characters")
        for name, value in filters.items()
        if value is not None and text_value(value) is None
    ]
    if problems:
        raise invalid("query", problems)
    assert limit is not None and page is not None
    found = connections.list_connections(
        store,
        connection_id=filters["connectionId"],
        integration=filters["integrationId"],
        end_user_id=filters["endUserId"],
        limit=limit,
        offset=page * limit,
    )
    return json.dumps({"connections": [c.public() for c in found]}).encode()


def get_connection(store: Database, connection_id: str, query: Query, handled: Handled) -> bytes:
    """GET /connections/{id} (and /connection/{id})."""
    key = query.get("provider_config_key")
    problems = [
        (name, "unrecognized parameter") for name in sorted(query.names() - CONNECTION_QUERY)
    ]
    if not key:
        problems.append(("provider_config_key", "required"))
    elif text_value(key) is None:
        problems.append(("provider_config_key", "must be text without control characters"))
    if text_value(connection_id) is None:
        problems.append(("connectionId", "must be text without control characters"))
    # stringBool in Nango's helpers/validation.ts (getConnection.ts): "true" or "false".
    problems += [
        (name, 'must be "true" or "false"')
        for name in ("force_refresh", "refresh_token", "refresh_github_app_jwt_token")
        if query.get(name) not in (None, "true", "false")
    ]
    if problems:
        raise invalid("query", problems)
    assert key is not None
    handled.connection_id, handled.provider_config_key = connection_id, key
    if not connections.known_integration(store, key):
        raise ApiError(400, "unknown_provider_config", "Provider does not exists")
    found = connections.get_connection(store, connection_id, key)
    if found is None:
        raise ApiError(404, "not_found", "Failed to find connection")
    return json.dumps(found.full()).encode()


def _connection_query(connection_id: str, query: Query, handled: Handled) -> str:
    """The strict `?provider_config_key=` of DELETE and PATCH /connections/{id}."""
    problems = [
        (name, "unrecognized parameter") for name in sorted(query.names() - {"provider_config_key"})
    ]
    key = query.get("provider_config_key")
    if text_value(key) is None:
        problems.append(("provider_config_key", "required, as text"))
    if text_value(connection_id) is None:
        problems.append(("connectionId", "must be text without control characters"))
    if problems:
        raise invalid("query", problems)
    assert key is not None
    handled.connection_id, handled.provider_config_key = connection_id, key
    return key


def delete_connection(
    store: Database, connection_id: str, query: Query, handled: Handled
) -> connections.Connection:
    """DELETE /connections/{id} (packages/server/lib/controllers/connection/connectionId/
    deleteConnection.ts): the connection, its records and schedules are gone; an unknown
    one is 400 `unknown_connection` with no message. Returns what was deleted."""
    key = _connection_query(connection_id, query, handled)
    found = connections.get_connection(store, connection_id, key)
    if found is None or not connections.delete_connection(store, connection_id, key):
        raise ApiError(400, "unknown_connection", "", fields={})
    return found


def patch_connection(
    store: Database, connection_id: str, query: Query, text: str, handled: Handled
) -> bytes:
    """PATCH /connections/{id} (patchConnection.ts; `webhook_url_override` from
    @nangohq/types 0.71.10's PatchPublicConnection): a strict body of `tags`,
    `end_user` and `webhook_url_override` ("" clears it)."""
    key = _connection_query(connection_id, query, handled)
    body = json_body(text)
    problems = [
        (name, "unrecognized key")
        for name in sorted(set(body) - {"tags", "end_user", "webhook_url_override"})
    ]
    override = body.get("webhook_url_override")
    if "webhook_url_override" in body and not (
        override == ""
        or (
            isinstance(override, str)
            and override.startswith(("http://", "https://"))
            and text_value(override) is not None
        )
    ):
        problems.append(("webhook_url_override", 'an http(s) URL, or "" to clear it'))
    tags = body.get("tags")
    if "tags" in body and not (
        isinstance(tags, dict)
        and len(tags) <= 10
        and all(text_value(k) is not None and isinstance(v, str) for k, v in tags.items())
    ):
        problems.append(("tags", "an object of at most 10 string values"))
    if "end_user" in body and not isinstance(body["end_user"], dict):
        problems.append(("end_user", "an object"))
    if problems:
        raise invalid("body", problems)
    if not connections.known_integration(store, key):
        raise ApiError(400, "unknown_provider_config", "Provider does not exists")
    if connections.get_connection(store, connection_id, key) is None:
        raise ApiError(404, "not_found", "Failed to find connection")
    if "webhook_url_override" in body:
        connections.set_webhook_url_override(store, connection_id, key, override or None)
    if isinstance(tags, dict):
        connections.set_tags(store, connection_id, key, tags)
    return b'{"success":true}'


def get_action(store: Database, action_id: str) -> bytes:
    """GET /action/{id}: an async action's result."""
    if text_value(action_id) is None:
        raise invalid("query", [("id", "must be text without control characters")])
    result = actions.action_result(store, action_id)
    if result is None:
        raise ApiError(404, "not_found", f"No async action with id {action_id!r}")
    return result
