"""`replay`: stored (or exported, or raw) webhooks -> optional edit/re-sign -> the pipeline.

By default a replay sends the stored bytes with the stored signature headers,
exactly what Nango does on a retry; only `--resign` or `--set` change them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.history_rows import WebhookRecord
from nango_cli.delivery.outbox import PlannedWebhook
from nango_cli.delivery.transport import TLSOptions
from nango_cli.errors import ConfigError, UsageError
from nango_cli.protocol import edits, schema, serialization, signatures, vocabulary
from nango_cli.protocol.headers import HOP_BY_HOP, check_header_values, merge_headers, wire_headers
from nango_cli.storage import export

if TYPE_CHECKING:
    from nango_cli.app.settings import Settings
    from nango_cli.delivery.outbox import AttemptEvent, DeliveryPlan, Journal, SentWebhook
    from nango_cli.delivery.transport import Sender

_SIGNATURE_HEADERS = {vocabulary.HMAC_HEADER.lower(), vocabulary.LEGACY_HEADER.lower()}


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
    negative: bool = False
    # A forgery sent to be refused: replayed as sent, it is judged as one again.
    expect_rejection: bool = False

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
        negative=webhook.negative,
        expect_rejection=webhook.meta.get("expect") == "rejection",
    )


def from_file(data: bytes, name: str) -> list[ReplaySource]:
    """Exported JSONL lines (history export), or else one raw body."""
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        raise UsageError(f"{name} is empty", hint="pass a raw body or `history export` output")
    exported: list[ReplaySource] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed = serialization.parse_json(line)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if not (isinstance(parsed, dict) and parsed.get("format") == export.EXPORT_FORMAT):
            if exported:
                raise UsageError(
                    f"{name}: line {number} is not an exported webhook",
                    hint="a file is either `history export` output or one raw body",
                )
            break
        try:
            exported.append(from_record(export.from_export(parsed)))
        except ValueError as exc:
            raise UsageError(f"{name}: line {number}: {exc}") from None
    else:
        if exported:
            return exported
    fields = schema.fields(data)

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    return [
        ReplaySource(
            body=data,
            type=text("type"),
            sync_name=text("syncName"),
            model=text("model"),
            connection_id=text("connectionId"),
            provider_config_key=text("providerConfigKey"),
        )
    ]


def prepare(
    sources: list[ReplaySource],
    key: str | None,
    targets_for: Any,
    resign: bool = False,
    sets: list[str] | None = None,
    env: str = "dev",
    new_fields: list[str] | None = None,
    as_sent: bool = False,
) -> tuple[list[PlannedWebhook], list[str]]:
    """The requests a replay sends (stored bytes and signatures unless edited or
    re-signed), and notes on what was changed on the way.

    `targets_for(connection_id)` says where each webhook goes. `as_sent`: an unsigned
    webhook stays unsigned (a scenario's duplicate of a forgery), instead of being
    signed with the environment's key.
    """
    assignments = edits.parse_edits(sets or [], new_fields or [])
    planned = []
    notes: list[str] = []
    for source in sources:
        body = source.body
        headers = {k: v for k, v in source.headers.items() if k.lower() not in HOP_BY_HOP}
        redacted = [k for k, v in headers.items() if v == export.REDACTED]
        if redacted:
            # An export made without --reveal: the real values are not in the file.
            headers = {k: v for k, v in headers.items() if k not in redacted}
            notes.append(
                f"{source.original_id or 'the webhook'}: sent without {', '.join(redacted)} "
                "(redacted in the export; export with --reveal to keep them)"
            )
        must_sign = resign or bool(assignments) or (not source.signed and not as_sent)
        if assignments:
            try:
                parsed = serialization.parse_json(body)
            except (ValueError, UnicodeDecodeError):
                raise UsageError(
                    f"--set needs a JSON body, and webhook {source.original_id or ''} is not JSON",
                    hint="replay it unedited, or edit the body in a file and use --file",
                ) from None
            parsed = edits.apply_edits(parsed, assignments)
            body = serialization.serialize(parsed, notes)
        if must_sign:
            if not key:
                raise ConfigError(
                    f"re-signing needs the signing key of environment {env!r}",
                    hint="set it with `nango-hooks config set-key`",
                )
            headers = {k: v for k, v in headers.items() if k.lower() not in _SIGNATURE_HEADERS}
            headers = merge_headers(headers, signatures.signature_headers(key, body))
        # What the webhook was sent with wins; the wire headers fill what is missing.
        headers = merge_headers(wire_headers(), headers)
        problem = check_header_values(headers)
        if problem:
            raise UsageError(
                f"cannot replay {source.original_id or 'the webhook'}: {problem}",
                hint="edit or remove that header in the exported file and replay it with --file",
            )
        fields = schema.fields(body) if assignments else {}
        webhook = PlannedWebhook.for_body(fields, body, headers)
        webhook.type = webhook.type or source.type
        webhook.sync_name = webhook.sync_name or source.sync_name
        webhook.model = webhook.model or source.model
        webhook.connection_id = webhook.connection_id or source.connection_id
        webhook.provider_config_key = webhook.provider_config_key or source.provider_config_key
        webhook.targets = list(targets_for(webhook.connection_id))
        webhook.replay_of = source.original_id
        webhook.negative = source.negative and not must_sign
        webhook.expect_rejection = source.expect_rejection and not must_sign
        planned.append(webhook)
    return planned, notes


def plan(
    sources: list[ReplaySource],
    settings: Settings,
    to: list[str] | None = None,
    resign: bool = False,
    sets: list[str] | None = None,
    new_fields: list[str] | None = None,
    circuit_breaker: bool = True,
    tls: TLSOptions | None = None,
    dry_run: bool = False,
    as_sent: bool = False,
) -> DeliveryPlan:
    """What a replay sends, and how (the environment's policy): to `to`, else each
    webhook's connection URL or the environment's URLs."""
    from nango_cli.app.plans import delivery_plan

    webhooks, notes = prepare(
        sources,
        settings.signing_key,
        lambda connection: list(to) if to else settings.targets_for(connection),
        resign,
        list(sets or []),
        settings.env,
        list(new_fields or []),
        as_sent,
    )
    if not all(w.targets for w in webhooks) and not dry_run:
        raise ConfigError(
            f"no webhook URL for environment {settings.env!r}",
            hint="give a URL to send to, or set one with `nango-hooks config set-url URL`",
        )
    return delivery_plan(settings, webhooks, notes, circuit_breaker, tls)


def send(
    replay_plan: DeliveryPlan,
    store: Journal,
    on_event: Callable[[AttemptEvent], None] = lambda event: None,
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> list[SentWebhook]:
    """Send a replay's plan: recorded first (the outbox), then delivered one at a time,
    in order (a replay changes nothing the API serves: it announces nothing anew)."""
    from nango_cli.delivery.outbox import execute

    return execute(replay_plan, store, on_event, sender, sleep, concurrent=False)
