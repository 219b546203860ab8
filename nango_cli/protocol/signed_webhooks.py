"""Signed webhooks: a body serialized as Nango serializes it, with the headers Nango's
server sends (both signatures included). `sign_webhook` is the one composition of
serialize + wire headers + signatures; the builders (`sync_webhook`, `auth_webhook`,
`forward_webhook`, `async_action_webhook`) add Nango's body for each kind, with the
options `fire` has under Python names. Pure: no I/O, no clock beyond "now" as the
default `modified_after`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nango_cli.errors import UsageError
from nango_cli.protocol import bodies, vocabulary
from nango_cli.protocol.headers import signed_headers
from nango_cli.protocol.serialization import parse_json, serialize


@dataclass(frozen=True)
class SignedWebhook:
    """One webhook as Nango's server sends it: the exact bytes and the headers."""

    body: bytes
    headers: dict[str, str]
    # Rounding notes (integers beyond 2^53 are sent as JavaScript prints them).
    notes: tuple[str, ...] = field(default=(), compare=False)

    def json(self) -> Any:
        """The body, parsed."""
        return parse_json(self.body)

    def _field(self, name: str) -> str | None:
        try:
            value = self.json()
        except ValueError:
            return None
        found = value.get(name) if isinstance(value, dict) else None
        return found if isinstance(found, str) else None

    @property
    def type(self) -> str | None:
        return self._field("type")

    @property
    def connection_id(self) -> str | None:
        return self._field("connectionId")

    @property
    def integration(self) -> str | None:
        return self._field("providerConfigKey")


def sign_webhook(
    body: Any,
    signing_key: str | None,
    *,
    sign: str = "both",
    headers: Mapping[str, str] | None = None,
) -> SignedWebhook:
    """A webhook for `body`: an object is serialized as Nango does (keys sorted, compact,
    JavaScript's numbers); `bytes` are sent as they are. Signed with `signing_key`
    (`sign` picks a deliberate negative: none, bad, legacy-only, hmac-only)."""
    notes: list[str] = []
    data = body if isinstance(body, bytes) else serialize(body, notes)
    return SignedWebhook(data, signed_headers(data, signing_key, sign, headers), tuple(notes))


def _required(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise UsageError(f"{name} is required (a non-empty string)")


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number")
    if not 0 <= value <= vocabulary.MAX_SAFE_INTEGER:
        raise UsageError(f"{name} must be from 0 to 2^53-1")
    return value


def sync_webhook(
    *,
    sync: str,
    model: str | Sequence[str],
    connection_id: str,
    integration: str,
    signing_key: str | None,
    added: int = 0,
    updated: int = 0,
    deleted: int = 0,
    sync_type: str = "INCREMENTAL",
    variant: str = "base",
    modified_after: str | None = None,
    checkpoints: Mapping[str, Any] | None = None,
    failed: bool = False,
    error_message: str | None = None,
    sign: str = "both",
) -> SignedWebhook:
    """A sync completion webhook for one model (Nango sends one per model), or with
    `failed=True` the sync error webhook (one for all the sync's models)."""
    from nango_cli.support.timefmt import now_timestamp, parse_timestamp

    _required(sync=sync, connection_id=connection_id, integration=integration, variant=variant)
    models = [model] if isinstance(model, str) else list(model)
    if not models or not all(isinstance(m, str) and m for m in models):
        raise UsageError("model is required (a model name, or several for a failed sync)")
    if len(models) > 1 and not failed:
        raise UsageError("a successful sync webhook is for one model: build one per model")
    kind = sync_type.upper()
    if kind not in vocabulary.SYNC_TYPES:
        raise UsageError(f"sync_type must be one of: {', '.join(vocabulary.SYNC_TYPES)}")
    moment = parse_timestamp(modified_after) if modified_after else now_timestamp()
    body: dict[str, Any]
    if failed:
        body = bodies.sync_error(
            connection_id=connection_id,
            provider_config_key=integration,
            sync_name=sync,
            sync_type=kind,
            variant=variant,
            checkpoints=checkpoints,
            models=models,
            description=error_message or "The sync script failed",
            started_at=moment,
            failed_at=now_timestamp(),
        )
    else:
        body = bodies.sync_success(
            connection_id=connection_id,
            provider_config_key=integration,
            sync_name=sync,
            sync_type=kind,
            variant=variant,
            checkpoints=checkpoints,
            model=models[0],
            modified_after=moment,
            added=_count("added", added),
            updated=_count("updated", updated),
            deleted=_count("deleted", deleted),
        )
    return sign_webhook(body, signing_key, sign=sign)


def auth_webhook(
    operation: str = "creation",
    *,
    connection_id: str,
    integration: str,
    signing_key: str | None,
    provider: str | None = None,
    environment: str = "dev",
    auth_mode: str = "OAUTH2",
    failed: bool = False,
    error_message: str | None = None,
    tags: Mapping[str, str] | None = None,
    end_user_id: str | None = None,
    end_user_email: str | None = None,
    organization_id: str | None = None,
    sign: str = "both",
) -> SignedWebhook:
    """An auth webhook: a connection created, overridden, refreshed (with `failed=True`:
    Nango sends refreshes only when they fail) or deleted."""
    _required(connection_id=connection_id, integration=integration, environment=environment)
    if operation not in vocabulary.FIREABLE_AUTH_OPERATIONS:
        raise UsageError(
            f"operation must be one of: {', '.join(vocabulary.FIREABLE_AUTH_OPERATIONS)}"
        )
    mode = "unknown" if auth_mode.lower() == "unknown" else auth_mode.upper()
    if mode not in vocabulary.AUTH_MODES:
        raise UsageError(f"auth_mode must be one of: {', '.join(vocabulary.AUTH_MODES)}")
    end_user = None
    if end_user_id:
        end_user = {"endUserId": end_user_id, "tags": dict(tags or {})}
        if end_user_email:
            end_user["endUserEmail"] = end_user_email
        if organization_id:
            end_user["organizationId"] = organization_id
    elif end_user_email or organization_id:
        raise UsageError("end_user_email and organization_id need end_user_id")
    body = bodies.auth(
        connection_id=connection_id,
        provider_config_key=integration,
        provider=provider or integration,
        environment=environment,
        operation=operation,
        auth_mode=mode,
        success=not failed,
        error_description=error_message,
        tags=tags,
        end_user=end_user,
    )
    return sign_webhook(body, signing_key, sign=sign)


def forward_webhook(
    payload: Any,
    *,
    integration: str,
    signing_key: str | None,
    connection_id: str | None = None,
    provider: str | None = None,
    headers: Mapping[str, str] | None = None,
    sign: str = "both",
) -> SignedWebhook:
    """An external API's webhook as Nango forwards it: wrapped with the connection it
    matched, or (`connection_id=None`) the payload unwrapped; the external `headers`
    Nango keeps are copied, its own signatures win."""
    _required(integration=integration)
    body = bodies.forward(
        provider=provider or integration,
        provider_config_key=integration,
        connection_id=connection_id,
        payload=payload,
    )
    kept = bodies.forwardable_headers((headers or {}).items())
    return sign_webhook(body, signing_key, sign=sign, headers=kept)


def async_action_webhook(
    *,
    connection_id: str,
    integration: str,
    signing_key: str | None,
    action_id: str | None = None,
    sign: str = "both",
) -> SignedWebhook:
    """The webhook Nango sends when an async action completes (its result is at
    `payload.statusUrl`)."""
    _required(connection_id=connection_id, integration=integration)
    body = bodies.async_action(
        connection_id=connection_id, provider_config_key=integration, action_id=action_id
    )
    return sign_webhook(body, signing_key, sign=sign)
