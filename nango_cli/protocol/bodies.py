"""Builders for every Nango webhook body (docs/protocol.md, Bodies).

Builders return plain dicts; `serialization.serialize` turns them into the exact
bytes. Optional fields are left out rather than set to None, as Nango omits
`undefined`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from nango_cli.errors import UsageError
from nango_cli.protocol.vocabulary import FORWARD_DROPPED_PREFIXES, HOP_BY_HOP


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


# The most records one sync webhook may announce for the API (fire, a scenario step,
# the pytest fixture): each is made and written before the webhook goes out.
MAX_ANNOUNCED = 1_000_000


def default_counts(
    added: int | None, updated: int | None, deleted: int | None
) -> tuple[int, int, int]:
    """What a sync success announces when counts are left out, everywhere one is built
    (`fire`, a scenario step, the pytest fixture): with no count at all, one added record
    (something to fetch); otherwise a count not given is 0 (`--deleted 2` deletes two and
    adds none). A UsageError past MAX_ANNOUNCED records in all."""
    if added is None and updated is None and deleted is None:
        return 1, 0, 0
    counts = (added or 0, updated or 0, deleted or 0)
    if sum(counts) > MAX_ANNOUNCED:
        raise UsageError(
            f"a sync webhook announces at most {MAX_ANNOUNCED:,} records ({sum(counts):,} asked)",
            hint="announce them over several webhooks, as Nango's runs do",
        )
    return counts


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
    """The external API's headers that Nango copies onto a forward, names unchanged;
    without the hop-by-hop and framing ones, which belong to the request they came on."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if not lowered.startswith(FORWARD_DROPPED_PREFIXES) and lowered not in HOP_BY_HOP:
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
