"""`fire`: turn options and settings into signed webhooks, record them, deliver them.

Planning (pure: options + settings -> bodies, headers, targets, notes) is kept
apart from execution (store + network) so `--dry-run` and tests share it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nango_cli import payloads, signing
from nango_cli.config import Settings
from nango_cli.delivery import (
    DeliveryResult,
    RetryPolicy,
    Sender,
    base_headers,
    deliver,
    make_policy,
)
from nango_cli.errors import ConfigError, UsageError
from nango_cli.nango_yaml import SyncInfo
from nango_cli.store import (
    DELIVERED,
    FAILED,
    INTERRUPTED,
    SENDING,
    AttemptRecord,
    Store,
    WebhookRecord,
    new_id,
)

DEFAULT_CONNECTION_ID = "test-connection-id"
KINDS = ("sync", "auth", "forward", "async_action", "body")


@dataclass
class FireOptions:
    kind: str = "sync"
    sync_name: str | None = None
    connection_id: str | None = None
    integration: str | None = None
    models: list[str] = field(default_factory=list)
    # counts: key None applies to every model, a model name to that model only
    added: dict[str | None, int] = field(default_factory=dict)
    updated: dict[str | None, int] = field(default_factory=dict)
    deleted: dict[str | None, int] = field(default_factory=dict)
    sync_type: str | None = None
    variant: str | None = None
    modified_after: str | None = None
    checkpoint_from: Any = None
    checkpoint_to: Any = None
    checkpoints_given: bool = False
    failed: bool = False
    error_message: str | None = None
    auth_operation: str = "creation"
    auth_mode: str = "OAUTH2"
    provider: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    end_user_id: str | None = None
    end_user_email: str | None = None
    organization_id: str | None = None
    forward_body: bytes | None = None
    forward_headers: list[tuple[str, str]] = field(default_factory=list)
    unmatched: bool = False
    action_id: str | None = None
    raw_body: bytes | None = None
    sets: list[str] = field(default_factory=list)
    force: bool = False
    sign_mode: str = "both"
    urls: list[str] = field(default_factory=list)
    dry_run: bool = False
    nango_yaml: str | None = None


@dataclass
class PlannedWebhook:
    type: str | None
    body: bytes
    headers: dict[str, str]
    sync_name: str | None = None
    model: str | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None
    replay_of: str | None = None

    @classmethod
    def for_body(cls, body: Any, data: bytes, headers: dict[str, str]) -> PlannedWebhook:
        """A webhook sending `data`, described by the fields of `body` when it is an object."""
        obj = body if isinstance(body, dict) else {}
        return cls(
            type=obj.get("type") if isinstance(obj.get("type"), str) else None,
            body=data,
            headers=headers,
            sync_name=obj.get("syncName"),
            model=obj.get("model"),
            connection_id=obj.get("connectionId"),
            provider_config_key=obj.get("providerConfigKey"),
        )

    @property
    def label(self) -> str:
        if self.type == "sync":
            return f"sync {self.sync_name}/{self.model}"
        return self.type or "body"


@dataclass
class FirePlan:
    webhooks: list[PlannedWebhook]
    targets: list[str]
    policy: RetryPolicy
    timeout: float
    env: str
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


# ---------------------------------------------------------------- planning


def _count(counts: dict[str | None, int], model: str, default: int) -> int:
    if model in counts:
        return counts[model]
    return counts.get(None, default)


def _parse_json_option(name: str, text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{name} is not valid JSON ({exc})", hint='e.g. {"cursor": "abc"}'
        ) from None


def resolve_sync(opts: FireOptions, settings: Settings, notes: list[str]) -> tuple[str, list[str]]:
    """A sync's integration and models: flags, then the config's [syncs] table, then
    nango.yaml, then the environment default, then derived from the name (with a note)."""
    if not opts.sync_name:
        raise UsageError(
            "fire needs a sync name", hint="e.g. nango-hooks fire --sync github-tickets"
        )
    sync = settings.sync(opts.sync_name)
    integration = opts.integration or (sync.integration if sync else None)
    models = list(opts.models) or (list(sync.models) if sync else [])
    if not integration or not models:
        found = _from_nango_yaml(opts, settings, notes)
        if found:
            integration = integration or found.integration
            models = models or list(found.models)
    integration = integration or settings["provider_config_key"]
    if not integration:
        integration = payloads.derive_integration(opts.sync_name)
        notes.append(
            f"integration not set: using {integration!r} (from the sync name); "
            "pass --integration or add it to [syncs] in the config"
        )
    if not models:
        models = [payloads.derive_model(opts.sync_name)]
        notes.append(
            f"model not set: using {models[0]!r} (from the sync name); pass --model "
            "or add models to [syncs] in the config"
        )
    return str(integration), models


def _sync_bodies(opts: FireOptions, settings: Settings, notes: list[str]) -> list[dict[str, Any]]:
    integration, models = resolve_sync(opts, settings, notes)
    assert opts.sync_name is not None
    sync = settings.sync(opts.sync_name)
    for counts in (opts.added, opts.updated, opts.deleted):
        unknown = [m for m in counts if m is not None and m not in models]
        if unknown:
            raise UsageError(
                f"count given for model {unknown[0]!r}, which this sync does not send",
                hint="models: " + ", ".join(models),
            )
    sync_type = (opts.sync_type or (sync.sync_type if sync else None) or "INCREMENTAL").upper()
    if sync_type not in payloads.SYNC_TYPES:
        raise ConfigError(
            f"invalid sync type {sync_type!r} for sync {opts.sync_name!r}",
            hint="use one of: " + ", ".join(payloads.SYNC_TYPES),
        )
    variant = opts.variant or (sync.variant if sync else None) or "base"
    connection_id = connection_for(opts, settings, notes)
    modified_after = (
        payloads.parse_timestamp(opts.modified_after)
        if opts.modified_after
        else payloads.now_timestamp()
    )
    checkpoints = None
    if opts.checkpoints_given:
        checkpoints = {"from": opts.checkpoint_from, "to": opts.checkpoint_to}
    if opts.failed:
        return [
            payloads.sync_error(
                connection_id=connection_id,
                provider_config_key=integration,
                sync_name=opts.sync_name,
                models=models,
                sync_type=sync_type,
                variant=variant,
                description=opts.error_message or "The sync script failed",
                started_at=modified_after,
                failed_at=payloads.now_timestamp(),
                checkpoints=checkpoints,
            )
        ]
    return [
        payloads.sync_success(
            connection_id=connection_id,
            provider_config_key=integration,
            sync_name=opts.sync_name,
            model=model,
            sync_type=sync_type,
            variant=variant,
            modified_after=modified_after,
            added=_count(opts.added, model, 1),
            updated=_count(opts.updated, model, 0),
            deleted=_count(opts.deleted, model, 0),
            checkpoints=checkpoints,
        )
        for model in models
    ]


def _from_nango_yaml(opts: FireOptions, settings: Settings, notes: list[str]) -> SyncInfo | None:
    """The sync as nango.yaml declares it, when the project has one that declares it."""
    from nango_cli import nango_yaml

    path, syncs = nango_yaml.discover(opts.nango_yaml or settings["nango_yaml"])
    found = syncs.get(opts.sync_name or "")
    if path and found:
        notes.append(
            f"sync {found.name!r} from {path}: integration {found.integration!r}, "
            f"models {', '.join(found.models) or '-'}"
        )
    return found


def connection_for(opts: FireOptions, settings: Settings, notes: list[str]) -> str:
    connection_id = opts.connection_id or settings["connection_id"]
    if not connection_id:
        connection_id = DEFAULT_CONNECTION_ID
        notes.append(
            f"connection not set: using {connection_id!r}; pass --connection "
            "or `nango-hooks config set connection_id ID`"
        )
    return str(connection_id)


def _integration(opts: FireOptions, settings: Settings, what: str) -> str:
    integration = opts.integration or settings["provider_config_key"]
    if not integration:
        raise UsageError(
            f"{what} needs an integration (providerConfigKey)",
            hint="pass --integration github, or `nango-hooks config set provider_config_key KEY`",
        )
    return str(integration)


def _auth_body(opts: FireOptions, settings: Settings, notes: list[str]) -> dict[str, Any]:
    if opts.auth_operation not in payloads.AUTH_OPERATIONS:
        raise UsageError(
            f"invalid auth operation {opts.auth_operation!r}",
            hint="use one of: " + ", ".join(payloads.AUTH_OPERATIONS),
        )
    mode = opts.auth_mode.upper()
    if mode not in payloads.AUTH_MODES:
        raise UsageError(
            f"invalid auth mode {opts.auth_mode!r}",
            hint="use one of: " + ", ".join(payloads.AUTH_MODES),
        )
    integration = _integration(opts, settings, "an auth webhook")
    end_user = None
    if opts.end_user_id:
        end_user = {"endUserId": opts.end_user_id, "tags": dict(opts.tags)}
        if opts.end_user_email:
            end_user["endUserEmail"] = opts.end_user_email
        if opts.organization_id:
            end_user["organizationId"] = opts.organization_id
    return payloads.auth(
        connection_id=connection_for(opts, settings, notes),
        provider_config_key=integration,
        provider=opts.provider or integration,
        environment=settings.env,
        operation=opts.auth_operation,
        auth_mode=mode,
        success=not opts.failed,
        error_description=opts.error_message,
        tags=opts.tags or None,
        end_user=end_user,
    )


def _skip_reason(opts: FireOptions, settings: Settings, bodies: list[Any]) -> str | None:
    """Why Nango would not send this webhook in this environment, or None."""
    if opts.kind == "sync" and not opts.failed:
        empty = all(
            isinstance(b, dict) and all(v == 0 for v in b.get("responseResults", {}).values())
            for b in bodies
        )
        if empty and not settings["send_empty_syncs"]:
            return "empty sync webhooks are off in this environment (send_empty_syncs)"
    if opts.kind == "sync" and opts.failed and not settings["send_sync_errors"]:
        return "sync error webhooks are off in this environment (send_sync_errors)"
    if opts.kind == "auth":
        if opts.auth_operation == "creation" and not settings["send_auth_creation"]:
            return "auth creation webhooks are off in this environment (send_auth_creation)"
        if opts.auth_operation == "refresh":
            if not opts.failed:
                return "Nango sends refresh webhooks only when a refresh fails (add --failed)"
            if not settings["send_refresh_errors"]:
                return "refresh error webhooks are off in this environment (send_refresh_errors)"
    if opts.kind == "async_action" and not settings["send_async_actions"]:
        return "async action webhooks are off in this environment (send_async_actions)"
    return None


def plan(opts: FireOptions, settings: Settings) -> FirePlan:
    if opts.kind not in KINDS:
        raise UsageError(f"unknown webhook kind {opts.kind!r}")
    if opts.sign_mode not in signing.SIGN_MODES:
        raise UsageError(
            f"invalid --sign {opts.sign_mode!r}",
            hint="use one of: " + ", ".join(signing.SIGN_MODES),
        )
    notes: list[str] = []
    extra_headers: dict[str, str] = {}
    bodies: list[Any]
    raw: bytes | None = None
    if opts.kind == "sync":
        bodies = _sync_bodies(opts, settings, notes)
    elif opts.kind == "auth":
        bodies = [_auth_body(opts, settings, notes)]
    elif opts.kind == "async_action":
        bodies = [
            payloads.async_action(
                connection_id=connection_for(opts, settings, notes),
                provider_config_key=_integration(opts, settings, "an async action webhook"),
                action_id=opts.action_id,
            )
        ]
    elif opts.kind == "forward":
        external = _parse_json_option("the forwarded body", opts.forward_body or b"")
        integration = _integration(opts, settings, "a forward webhook")
        connection = None if opts.unmatched else connection_for(opts, settings, notes)
        bodies = [
            payloads.forward(
                provider=opts.provider or integration,
                provider_config_key=integration,
                connection_id=connection,
                payload=external,
            )
        ]
        extra_headers = payloads.forwardable_headers(opts.forward_headers)
    else:
        raw = opts.raw_body if opts.raw_body is not None else b""
        if opts.sets:
            bodies = [_parse_json_option("the body", raw)]
            notes.append("--set edits the body, so it is re-serialized as Nango would")
            raw = None
        else:
            try:
                bodies = [json.loads(raw)]
            except ValueError:
                bodies = [None]
    for assignment in opts.sets:
        path, value = payloads.parse_assignment(assignment)
        bodies = [payloads.apply_assignment(b, path, value) for b in bodies]

    targets = list(opts.urls) or [u for u in (settings["url"], settings["secondary_url"]) if u]
    if not targets and not opts.dry_run:
        raise ConfigError(
            f"no webhook URL for environment {settings.env!r}",
            hint="set one with `nango-hooks config set-url URL`, or pass --url URL",
        )
    key = settings["signing_key"]
    if not key and opts.sign_mode != "none":
        raise ConfigError(
            f"no signing key for environment {settings.env!r}",
            hint="set it with `nango-hooks config set-key` (Nango: Environment Settings > "
            "Webhooks), or fire with --sign none",
        )
    webhooks = []
    for body in bodies:
        data = raw if raw is not None else signing.serialize(body)
        headers = {**extra_headers, **base_headers()}
        headers.update(signing.signature_headers(key or "", data, opts.sign_mode))
        webhooks.append(PlannedWebhook.for_body(body, data, headers))
    skipped = None if opts.force else _skip_reason(opts, settings, bodies)
    return FirePlan(
        webhooks=webhooks,
        targets=targets,
        policy=make_policy(settings["retry_policy"], settings["retries"]),
        timeout=float(settings["timeout"]),
        env=settings.env,
        notes=notes,
        skipped=skipped,
    )


# ---------------------------------------------------------------- execution


@dataclass
class AttemptEvent:
    webhook_id: str
    label: str
    attempt: AttemptRecord
    reason: str


@dataclass
class SentWebhook:
    record: WebhookRecord
    result: DeliveryResult | None = None

    @property
    def delivered(self) -> bool:
        return self.result is not None and self.result.delivered

    def to_dict(self) -> dict[str, Any]:
        data = self.record.summary()
        data["status"] = (
            DELIVERED if self.delivered else (FAILED if self.result else self.record.status)
        )
        attempts = [a for t in (self.result.targets if self.result else []) for a in t.attempts]
        data["attempt_count"] = len(attempts)
        if attempts:
            data["last_status_code"] = attempts[-1].status_code
            data["latency_ms"] = attempts[-1].latency_ms
        data["headers"] = self.record.headers
        data["body"] = self.record.body.decode("utf-8", "replace")
        data["attempts"] = [a.to_dict() for a in attempts]
        return data


def to_records(webhooks: list[PlannedWebhook], targets: list[str], env: str) -> list[WebhookRecord]:
    return [
        WebhookRecord(
            id=new_id(),
            created_at=payloads.now_timestamp(),
            direction="sent",
            env=env,
            type=w.type,
            body=w.body,
            headers=w.headers,
            status=SENDING,
            sync_name=w.sync_name,
            model=w.model,
            connection_id=w.connection_id,
            provider_config_key=w.provider_config_key,
            targets=targets,
            replay_of=w.replay_of,
        )
        for w in webhooks
    ]


def send_recorded(
    records: list[WebhookRecord],
    labels: list[str],
    targets: list[str],
    policy: RetryPolicy,
    timeout: float,
    store: Store,
    on_event: Callable[[AttemptEvent], None],
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    concurrent: bool = True,
) -> list[SentWebhook]:
    """Deliver webhooks already committed to the store; concurrently when several
    (unless `concurrent` is false, as for a replay, which keeps the original order).

    Nango sends a sync's per-model webhooks at once, in no order; so do we.
    Worker threads are daemons so Ctrl-C ends the process at once; rows still
    `sending` are then marked interrupted.
    """
    own_sender = sender is None
    sender = sender or Sender()
    sent = [SentWebhook(r) for r in records]
    lock = threading.Lock()

    def run(item: SentWebhook, label: str) -> None:
        def on_attempt(attempt: AttemptRecord, reason: str) -> None:
            store.record_attempt(item.record.id, attempt)
            with lock:
                on_event(AttemptEvent(item.record.id, label, attempt, reason))

        item.result = deliver(
            item.record.body,
            item.record.headers,
            targets,
            policy,
            timeout,
            sender,
            on_attempt,
            sleep,
        )
        store.finish_webhook(item.record.id, DELIVERED if item.result.delivered else FAILED)

    try:
        if len(sent) == 1 or not concurrent:
            for item, label in zip(sent, labels, strict=True):
                run(item, label)
        else:
            errors: list[BaseException] = []

            def guarded(item: SentWebhook, label: str) -> None:
                try:
                    run(item, label)
                except BaseException as exc:  # re-raised in the main thread
                    errors.append(exc)

            threads = [
                threading.Thread(target=guarded, args=(item, label), daemon=True)
                for item, label in zip(sent, labels, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.05)
            if errors:
                raise errors[0]
    except BaseException:
        for item in sent:
            if item.result is None:
                store.finish_webhook(item.record.id, INTERRUPTED)
        raise
    finally:
        if own_sender:
            sender.close()
    return sent


def execute(
    fire_plan: FirePlan,
    store: Store,
    on_event: Callable[[AttemptEvent], None],
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    concurrent: bool = True,
) -> list[SentWebhook]:
    """Record every webhook first (the outbox), then deliver."""
    records = to_records(fire_plan.webhooks, fire_plan.targets, fire_plan.env)
    store.record_webhooks(records)
    return send_recorded(
        records,
        [w.label for w in fire_plan.webhooks],
        fire_plan.targets,
        fire_plan.policy,
        fire_plan.timeout,
        store,
        on_event,
        sender,
        sleep,
        concurrent,
    )
