"""Builders for every Nango webhook body (docs/protocol.md, Bodies).

Builders return plain dicts; `signing.serialize` turns them into the exact bytes.
Optional fields are left out rather than set to None, as Nango omits `undefined`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from nango_cli.errors import UsageError
from nango_cli.nango import ANY_FIELDS, BODY_FIELDS, FORWARD_DROPPED_PREFIXES
from nango_cli.signing import parse_json

# ---------------------------------------------------------------- time


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as JavaScript's Date.toISOString()."""
    m = moment.astimezone(UTC)
    # Formatted by hand: strftime is several times slower, and load mode stamps
    # every attempt.
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
        f"{m.second:02d}.{m.microsecond // 1000:03d}Z"
    )


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(text: str) -> str:
    """Normalize a user-given time to Nango's format; naive times are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid timestamp {text!r}",
            hint="use ISO-8601, e.g. 2026-11-26T12:00:00.000Z or 2026-11-26",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


# ---------------------------------------------------------------- derivations


def derive_integration(sync_name: str) -> str:
    """`github-tickets` -> `github`: Nango sync names usually start with the provider."""
    return re.split(r"[-_.]", sync_name, maxsplit=1)[0] or sync_name


def derive_model(sync_name: str) -> str:
    """`github-tickets` -> `Ticket`: the rest of the name, singular, in PascalCase."""
    parts = [p for p in re.split(r"[-_.\s]+", sync_name) if p]
    words = parts[1:] or parts
    if not words:
        return "Record"
    last = words[-1]
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 1:
        last = last[:-1]
    words[-1] = last
    return "".join(w[:1].upper() + w[1:] for w in words)


# ---------------------------------------------------------------- builders


def sync_success(
    *,
    connection_id: str,
    provider_config_key: str,
    sync_name: str,
    model: str,
    sync_type: str = "INCREMENTAL",
    variant: str = "base",
    modified_after: str,
    added: int = 0,
    updated: int = 0,
    deleted: int = 0,
    checkpoints: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": "nango",
        "type": "sync",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "syncName": sync_name,
        "syncVariant": variant,
        "model": model,
        "syncType": sync_type,
        "success": True,
        "modifiedAfter": modified_after,
        "queryTimeStamp": modified_after,
        "responseResults": {"added": added, "updated": updated, "deleted": deleted},
    }
    if checkpoints is not None:
        body["checkpoints"] = dict(checkpoints)
    return body


def sync_error(
    *,
    connection_id: str,
    provider_config_key: str,
    sync_name: str,
    models: Iterable[str],
    sync_type: str = "INCREMENTAL",
    variant: str = "base",
    description: str,
    started_at: str,
    failed_at: str,
    checkpoints: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": "nango",
        "type": "sync",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "syncName": sync_name,
        "syncVariant": variant,
        "model": ",".join(models),
        "syncType": sync_type,
        "success": False,
        "error": {"type": "script_error", "description": description},
        "startedAt": started_at,
        "failedAt": failed_at,
    }
    if checkpoints is not None:
        body["checkpoints"] = dict(checkpoints)
    return body


def auth(
    *,
    connection_id: str,
    provider_config_key: str,
    provider: str,
    environment: str,
    operation: str,
    auth_mode: str = "OAUTH2",
    success: bool = True,
    error_description: str | None = None,
    tags: Mapping[str, str] | None = None,
    end_user: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": "nango",
        "type": "auth",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "authMode": auth_mode,
        "provider": provider,
        "environment": environment,
        "operation": operation,
        "success": success,
    }
    if not success:
        body["error"] = {
            "type": "refresh_token_external_error" if operation == "refresh" else "auth_error",
            "description": error_description or "The external API rejected the credentials",
        }
    if tags:
        body["tags"] = dict(tags)
    if end_user is not None and success and operation in ("creation", "override", "deletion"):
        body["endUser"] = dict(end_user)
    return body


def forward(
    *,
    provider: str,
    provider_config_key: str,
    connection_id: str | None,
    payload: Any,
) -> Any:
    """A forwarded external webhook; with no connection Nango sends the raw body unwrapped."""
    if connection_id is None:
        return payload
    return {
        "from": provider,
        "type": "forward",
        "providerConfigKey": provider_config_key,
        "connectionId": connection_id,
        "payload": payload,
    }


def forwardable_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The external API's headers that Nango copies onto a forward, names unchanged."""
    kept: dict[str, str] = {}
    for name, value in headers:
        if not name.lower().startswith(FORWARD_DROPPED_PREFIXES):
            kept[name] = value
    return kept


def async_action(
    *, connection_id: str, provider_config_key: str, action_id: str | None = None
) -> dict[str, Any]:
    import uuid

    action_id = action_id or str(uuid.uuid4())
    return {
        "from": "nango",
        "type": "async_action",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "payload": {"id": action_id, "statusUrl": f"/action/{action_id}"},
    }


# ---------------------------------------------------------------- --set overrides


def parse_assignment(text: str, option: str = "--set") -> tuple[list[str], Any]:
    """`path.to.field=JSON` -> (["path", "to", "field"], value).

    The value is JSON when it parses as JSON (`5`, `null`, `{"a":1}`, `"5"`),
    otherwise the text itself as a string (so `--set connectionId=abc` works).
    """
    path_text, sep, value_text = text.partition("=")
    if not sep or not path_text.strip():
        raise UsageError(
            f"invalid {option} {text!r}",
            hint="use PATH=VALUE, e.g. --set responseResults.added=5 or --set checkpoints=null",
        )
    path = path_text.strip().split(".")
    if any(not part for part in path):
        raise UsageError(
            f"invalid path {path_text!r} in {option}", hint="e.g. responseResults.added"
        )
    try:
        value = parse_json(value_text)
    except ValueError:
        value = value_text
    return path, value


class Edit(NamedTuple):
    """One `--set` (the path must be a field of the body's Nango type) or `--set-new`."""

    path: list[str]
    value: Any
    known_field: bool


def parse_edits(sets: Iterable[str], new_fields: Iterable[str] = ()) -> list[Edit]:
    edits = [Edit(*parse_assignment(text), True) for text in sets]
    edits += [Edit(*parse_assignment(text, "--set-new"), False) for text in new_fields]
    return edits


def apply_edits(body: Any, edits: Iterable[Edit]) -> Any:
    for edit in edits:
        if edit.known_field:
            check_known_path(body, edit.path)
        body = apply_assignment(body, edit.path, edit.value)
    return body


def check_known_path(body: Any, path: list[str], option: str = "--set") -> None:
    """Refuse a `--set` path that is not a field of the body's Nango type: a typo
    (`responseResult.added`) would otherwise add a field Nango never sends."""
    kind = body.get("type") if isinstance(body, dict) else None
    fields: object = BODY_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return  # not a Nango type (a raw body of another shape): nothing to check against
    for depth, part in enumerate(path):
        if fields == ANY_FIELDS:
            return
        if not isinstance(fields, dict):
            raise UsageError(
                f"{option} {'.'.join(path)!r}: {'.'.join(path[:depth])} is a value in Nango's "
                "type, not an object",
                hint="to add a field Nango does not send, use --set-new PATH=JSON",
            )
        known = fields
        if part not in known:
            where = ".".join(path[:depth]) or f"a {kind} webhook"
            close = difflib.get_close_matches(part, list(known), n=1)
            suggestion = f"did you mean {'.'.join([*path[:depth], close[0]])!r}? " if close else ""
            raise UsageError(
                f"{option} {'.'.join(path)!r}: {part!r} is not a field of {where} "
                f"(fields: {', '.join(known) or 'none'})",
                hint=f"{suggestion}to add a field Nango does not send, use --set-new PATH=JSON",
            )
        fields = known[part]


def apply_assignment(body: Any, path: list[str], value: Any) -> Any:
    """Set `value` at `path` inside `body` (creating objects on the way); returns the body."""
    if not isinstance(body, dict):
        raise UsageError(
            "--set needs a JSON object body", hint="use --body with an object, or drop --set"
        )
    target: Any = body
    for depth, part in enumerate(path[:-1]):
        if isinstance(target, list):
            target = target[_list_index(target, part, path[: depth + 1])]
        elif isinstance(target, dict):
            nxt = target.get(part)
            if not isinstance(nxt, dict | list):
                nxt = {}
                target[part] = nxt
            target = nxt
    last = path[-1]
    if isinstance(target, list):
        target[_list_index(target, last, path)] = value
    else:
        target[last] = value
    return body


def _list_index(items: list[Any], part: str, path: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise UsageError(
            f"--set path {'.'.join(path)!r}: {part!r} is not an index of that list",
            hint=f"the list has {len(items)} item(s); use 0..{max(len(items) - 1, 0)}",
        )
    return int(part)
