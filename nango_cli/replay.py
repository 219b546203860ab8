"""`replay`: stored (or exported, or raw) webhooks -> optional edit/re-sign -> deliver -> record.

By default a replay sends the stored bytes with the stored signature headers,
exactly what Nango does on a retry; only `--resign` or `--set` change them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nango_cli import history, payloads, signing
from nango_cli.delivery import HOP_BY_HOP, base_headers
from nango_cli.errors import ConfigError, UsageError
from nango_cli.fire import PlannedWebhook
from nango_cli.store import WebhookRecord

_SIGNATURE_HEADERS = {signing.HMAC_HEADER.lower(), signing.LEGACY_HEADER.lower()}


@dataclass
class ReplaySource:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    original_id: str | None = None
    type: str | None = None
    sync_name: str | None = None
    model: str | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None

    @property
    def signed(self) -> bool:
        return any(name.lower() in _SIGNATURE_HEADERS for name in self.headers)


def from_record(webhook: WebhookRecord) -> ReplaySource:
    return ReplaySource(
        body=webhook.body,
        headers=dict(webhook.headers),
        original_id=webhook.id,
        type=webhook.type,
        sync_name=webhook.sync_name,
        model=webhook.model,
        connection_id=webhook.connection_id,
        provider_config_key=webhook.provider_config_key,
    )


def _fields_of(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def from_file(data: bytes, name: str) -> list[ReplaySource]:
    """Exported JSONL lines (history export), or else one raw body."""
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        raise UsageError(f"{name} is empty", hint="pass a raw body or `history export` output")
    exported: list[ReplaySource] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if not (isinstance(parsed, dict) and parsed.get("format") == history.EXPORT_FORMAT):
            if exported:
                raise UsageError(
                    f"{name}: line {number} is not an exported webhook",
                    hint="a file is either `history export` output or one raw body",
                )
            break
        try:
            exported.append(from_record(history.from_export(parsed)))
        except ValueError as exc:
            raise UsageError(f"{name}: line {number}: {exc}") from None
    else:
        if exported:
            return exported
    fields = _fields_of(data)
    return [
        ReplaySource(
            body=data,
            type=fields.get("type") if isinstance(fields.get("type"), str) else None,
            sync_name=fields.get("syncName"),
            model=fields.get("model"),
            connection_id=fields.get("connectionId"),
            provider_config_key=fields.get("providerConfigKey"),
        )
    ]


def prepare(
    sources: list[ReplaySource],
    key: str | None,
    resign: bool = False,
    sets: list[str] | None = None,
    env: str = "dev",
) -> list[PlannedWebhook]:
    """The requests a replay sends: stored bytes and signatures unless edited or re-signed."""
    assignments = [payloads.parse_assignment(text) for text in sets or []]
    planned = []
    for source in sources:
        body = source.body
        headers = {k: v for k, v in source.headers.items() if k.lower() not in HOP_BY_HOP}
        must_sign = resign or bool(assignments) or not source.signed
        if assignments:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise UsageError(
                    f"--set needs a JSON body, and webhook {source.original_id or ''} is not JSON",
                    hint="replay it unedited, or edit the body in a file and use --file",
                ) from None
            for path, value in assignments:
                parsed = payloads.apply_assignment(parsed, path, value)
            body = signing.serialize(parsed)
        if must_sign:
            if not key:
                raise ConfigError(
                    f"re-signing needs the signing key of environment {env!r}",
                    hint="set it with `nango-hooks config set-key`",
                )
            headers = {k: v for k, v in headers.items() if k.lower() not in _SIGNATURE_HEADERS}
            headers.update(signing.signature_headers(key, body))
        present = {k.lower() for k in headers}
        for name, value in base_headers().items():
            if name not in present:
                headers[name] = value
        fields = _fields_of(body) if assignments else {}
        planned.append(
            PlannedWebhook(
                type=fields.get("type", source.type),
                body=body,
                headers=headers,
                sync_name=fields.get("syncName", source.sync_name),
                model=fields.get("model", source.model),
                connection_id=fields.get("connectionId", source.connection_id),
                provider_config_key=fields.get("providerConfigKey", source.provider_config_key),
                replay_of=source.original_id,
            )
        )
    return planned
