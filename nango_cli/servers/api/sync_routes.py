"""POST /sync/trigger, /sync/start, /sync/pause and GET /sync/status, validated and
answered as Nango's controllers do (in the NangoHQ/nango repository:
packages/server/lib/controllers/sync/postTrigger.ts, postSyncStart.ts,
postSyncPause.ts, getSyncStatus.ts; the errors' statuses and messages from its
packages/shared/lib/utils/error.ts).

Which syncs exist: those the project or the config declares for the integration
(`declared`), and those a sync webhook of the integration named (storage/syncs.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from nango_cli.servers.api.routes import Handled, Query
from nango_cli.servers.api.validation import ApiError, issues_error, json_body, text_value
from nango_cli.storage import connections, syncs
from nango_cli.storage.database import Database

Declared = Callable[[str], set[str]]
MAX_SYNCS = 256
_TRIGGER_KEYS = {
    "syncs",
    "sync_mode",
    "full_resync",
    "connection_id",
    "provider_config_key",
    "opts",
}
_COMMAND_KEYS = {"syncs", "provider_config_key", "connection_id"}
_SYNC_MODES = ("incremental", "full_refresh", "full_refresh_and_clear_cache")


class SyncRequest(NamedTuple):
    """A sync command as validated: the connections it applies to, the syncs, and
    whether the records are emptied first (`opts.emptyCache`)."""

    connection_ids: list[str]
    provider_config_key: str
    names: list[str]
    empty_cache: bool = False


def _issue(code: str, path: list[Any], message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "path": path}


def _unrecognized(given: Mapping[str, Any], allowed: set[str]) -> list[dict[str, Any]]:
    extra = sorted(k for k in given if k not in allowed)
    if not extra:
        return []
    names = ", ".join(f'"{k}"' for k in extra)
    return [_issue("unrecognized_keys", [], f"Unrecognized key(s) in object: {names}")]


def _text(body: Mapping[str, Any], name: str, required: bool, issues: list[Any]) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if text_value(value) is None:
        issues.append(_issue("invalid_type", [name], "Expected string"))
        return None
    return str(value)


def _sync_names(value: Any, strict: bool, issues: list[Any]) -> list[str]:
    """`syncs`: names, or `{name, variant}` objects (variants are all `base` here)."""
    if not isinstance(value, list):
        issues.append(_issue("invalid_type", ["syncs"], "Expected array"))
        return []
    if strict and len(value) > MAX_SYNCS:
        issues.append(_issue("too_big", ["syncs"], f"Too big: expected at most {MAX_SYNCS}"))
        return []
    names = []
    for index, item in enumerate(value):
        if text_value(item) is not None:
            names.append(str(item))
            continue
        fits = (
            isinstance(item, dict)
            and text_value(item.get("name")) is not None
            and isinstance(item.get("variant"), str)
            and (not strict or set(item) == {"name", "variant"})
        )
        if not fits:
            issues.append(
                _issue(
                    "invalid_union",
                    ["syncs", index],
                    "Each sync must be either a string or a { name: string, variant: string } "
                    "object",
                )
            )
            continue
        names.append(str(item["name"]))
    return list(dict.fromkeys(names))


def trigger_request(
    store: Database,
    text: str,
    query: Query,
    headers: Mapping[str, str],
    handled: Handled,
    declared: Declared,
) -> SyncRequest:
    """POST /sync/trigger (postTrigger.ts): no query string, a strict body, the
    integration and connection from the body or the headers."""
    if query.items:
        raise issues_error("query", _unrecognized(dict(query.items), set()))
    body = json_body(text)
    issues = _unrecognized(body, _TRIGGER_KEYS)
    names = _sync_names(body.get("syncs"), False, issues)
    mode = body.get("sync_mode")
    if mode is not None and mode not in _SYNC_MODES:
        issues.append(
            _issue(
                "invalid_value",
                ["sync_mode"],
                "Invalid option: expected one of " + "|".join(f'"{m}"' for m in _SYNC_MODES),
            )
        )
    if "full_resync" in body and not isinstance(body["full_resync"], bool):
        issues.append(_issue("invalid_type", ["full_resync"], "Expected boolean"))
    opts = body.get("opts")
    empty_cache = mode == "full_refresh_and_clear_cache"
    if opts is not None:
        if not isinstance(opts, dict):
            issues.append(_issue("invalid_type", ["opts"], "Expected object"))
        else:
            issues += [
                {**i, "path": ["opts"]} for i in _unrecognized(opts, {"reset", "emptyCache"})
            ]
            for flag in ("reset", "emptyCache"):
                if flag in opts and not isinstance(opts[flag], bool):
                    issues.append(_issue("invalid_type", ["opts", flag], "Expected boolean"))
            empty_cache = empty_cache or opts.get("emptyCache") is True
        if mode is not None or "full_resync" in body:
            # The SDK sends one or the other (opts, or the deprecated sync_mode).
            issues.append(
                _issue("custom", ["opts"], "opts cannot be combined with sync_mode or full_resync")
            )
    key = _text(body, "provider_config_key", False, issues)
    connection_id = _text(body, "connection_id", False, issues)
    if issues:
        raise issues_error("body", issues)
    key = key or headers.get("Provider-Config-Key") or None
    if not key:
        raise ApiError(
            400,
            "missing_provider_config_key",
            "Missing provider_config_key. Provide it in the body or headers.",
        )
    connection_id = connection_id or headers.get("Connection-Id") or None
    return _resolve(store, handled, declared, str(key), connection_id, names, empty_cache)


def command_request(
    store: Database, text: str, handled: Handled, declared: Declared
) -> SyncRequest:
    """POST /sync/start and /sync/pause (postSyncStart.ts, postSyncPause.ts): a strict
    body with provider_config_key required."""
    body = json_body(text)
    issues = _unrecognized(body, _COMMAND_KEYS)
    names = _sync_names(body.get("syncs"), True, issues)
    key = _text(body, "provider_config_key", True, issues)
    connection_id = _text(body, "connection_id", False, issues)
    if issues:
        raise issues_error("body", issues)
    assert key is not None
    return _resolve(store, handled, declared, key, connection_id, names, False)


def known_syncs(store: Database, key: str, declared: Declared) -> set[str]:
    return declared(key) | syncs.seen_syncs(store, key)


def _resolve(
    store: Database,
    handled: Handled,
    declared: Declared,
    key: str,
    connection_id: str | None,
    names: list[str],
    empty_cache: bool,
) -> SyncRequest:
    """The command's targets, refused as runSyncCommand refuses them: an unknown
    integration, an unknown connection, a sync that does not exist."""
    if text_value(key) is None:
        problem = _issue("invalid_type", ["provider-config-key"], "Expected text")
        raise issues_error("headers", [problem])
    handled.connection_id, handled.provider_config_key = connection_id, key
    known = known_syncs(store, key, declared)
    if not known and not connections.known_integration(store, key):
        raise ApiError(
            400, "unknown_provider_config", "There is no Provider Configuration matching this key."
        )
    if connection_id is not None:
        if connections.get_connection(store, connection_id, key) is None:
            raise ApiError(
                404,
                "unknown_connection",
                "No connection matching the provided params of 'connection_id' and "
                "'provider_config_key'.",
            )
        targets = [connection_id]
    else:
        targets = [c.connection_id for c in connections.list_connections(store, integration=key)]
    unknown = [n for n in names if n not in known]
    chosen = names or sorted(known)
    if unknown or not chosen:
        message = "No syncs found given the inputs."
        if unknown:
            message += f" nango-hooks knows no sync {unknown[0]!r} for {key!r}: " + (
                "a sync exists once the project or the config's [syncs] declares it, or a "
                "sync webhook of this integration was fired"
            )
        raise ApiError(400, "no_syncs_found", message)
    return SyncRequest(targets, key, chosen, empty_cache)


def status(store: Database, query: Query, handled: Handled, declared: Declared) -> bytes:
    """GET /sync/status (getSyncStatus.ts): `syncs` is `*` or a comma list
    (`name::variant` allowed), for one connection or every connection of the
    integration."""
    issues = _unrecognized(dict(query.items), {"syncs", "provider_config_key", "connection_id"})
    given = {name: query.get(name) for name in ("syncs", "provider_config_key", "connection_id")}
    for name in ("syncs", "provider_config_key"):
        if given[name] is None:
            issues.append(_issue("invalid_type", [name], "Expected string"))
    for name, value in given.items():
        if value is not None and text_value(value) is None:
            issues.append(_issue("invalid_type", [name], "Expected string"))
    if issues:
        raise issues_error("query", issues)
    key = str(given["provider_config_key"])
    connection_id = given["connection_id"]
    handled.connection_id, handled.provider_config_key = connection_id, key
    known = known_syncs(store, key, declared)
    wanted = given["syncs"] or ""
    names = (
        sorted(known)
        if wanted == "*"
        else [n for n in dict.fromkeys(p.split("::")[0] for p in wanted.split(",")) if n in known]
    )
    if connection_id is not None:
        if connections.get_connection(store, connection_id, key) is None:
            raise ApiError(400, "invalid_body", "Connection not found")
        targets = [connection_id]
    else:
        targets = [c.connection_id for c in connections.list_connections(store, integration=key)]
    return json.dumps(
        {"syncs": [_status(store, c, key, n) for c in targets for n in names]}
    ).encode()


def _status(store: Database, connection_id: str, key: str, name: str) -> dict[str, Any]:
    run = syncs.last_run(store, connection_id, key, name)
    paused = syncs.paused(store, connection_id, key, name)
    state = "PAUSED" if paused else "ERROR" if run.failed else "SUCCESS"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"nango-hooks:{key}:{connection_id}:{name}")),
        "connection_id": connection_id,
        "name": name,
        "variant": "base",
        "type": "INCREMENTAL",
        "status": state,
        "frequency": None,
        "finishedAt": run.finished_at,
        "nextScheduledSyncAt": None,
        "latestExecutionStatus": state,
        "latestResult": run.results or None,
        "recordCount": syncs.record_counts(store, connection_id, key),
        "checkpoint": None,
    }
