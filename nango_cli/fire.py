"""`fire`: options + settings -> signed webhooks, ready for the pipeline.

Planning is pure (bodies from nango_cli/bodies.py, signatures, targets, the
environment's toggles) so `--dry-run` and tests share it with real sends;
nango_cli/pipeline.py records and delivers the plan.
"""

from __future__ import annotations

from typing import Any

from nango_cli import bodies, signing
from nango_cli.bodies import FireOptions
from nango_cli.config import Settings
from nango_cli.delivery import merge_headers, wire_headers
from nango_cli.errors import ConfigError, UsageError
from nango_cli.pipeline import DeliveryPlan, PlannedWebhook, delivery_policy
from nango_cli.transports import TLSOptions

__all__ = ["FireOptions", "plan", "targets_for"]


def targets_for(opts: FireOptions, settings: Settings, connection_id: str | None) -> list[str]:
    """Where a webhook goes: --url flags, else the connection's own URL, else the
    environment's primary then secondary URL."""
    return list(opts.urls) or settings.targets_for(connection_id)


def _skip_reason(opts: FireOptions, settings: Settings, built_bodies: list[Any]) -> str | None:
    """Why Nango would not send this webhook in this environment, or None."""
    if opts.kind == "sync" and not opts.failed:
        empty = all(
            isinstance(b, dict) and all(v == 0 for v in b.get("responseResults", {}).values())
            for b in built_bodies
        )
        if empty and not settings["send_empty_syncs"]:
            return "empty sync webhooks are off in this environment (send_empty_syncs)"
    if opts.kind == "sync" and opts.failed and not settings["send_sync_errors"]:
        return "sync error webhooks are off in this environment (send_sync_errors)"
    if opts.kind == "auth":
        if opts.auth_operation == "creation" and not settings["send_auth_creation"]:
            return "auth creation webhooks are off in this environment (send_auth_creation)"
        if opts.auth_operation == "deletion" and not settings["send_connection_deletions"]:
            return (
                "connection deletion webhooks are off in this environment "
                "(send_connection_deletions)"
            )
        if opts.auth_operation == "refresh":
            if not opts.failed:
                return "Nango sends refresh webhooks only when a refresh fails (add --failed)"
            if not settings["send_refresh_errors"]:
                return "refresh error webhooks are off in this environment (send_refresh_errors)"
    if opts.kind == "async_action" and not settings["send_async_actions"]:
        return "async action webhooks are off in this environment (send_async_actions)"
    return None


def plan(opts: FireOptions, settings: Settings, tls: TLSOptions | None = None) -> DeliveryPlan:
    if opts.sign_mode not in signing.SIGN_MODES:
        raise UsageError(
            f"invalid --sign {opts.sign_mode!r}",
            hint="use one of: " + ", ".join(signing.SIGN_MODES),
        )
    notes: list[str] = []
    built = bodies.build(opts, settings, notes)
    key = settings["signing_key"]
    webhooks = []
    for body in built.bodies:
        data = built.raw if built.raw is not None else signing.serialize(body, notes)
        webhook = PlannedWebhook.for_body(body, data, {})
        webhook.targets = targets_for(opts, settings, webhook.connection_id)
        if not webhook.targets and not opts.dry_run:
            raise ConfigError(
                f"no webhook URL for environment {settings.env!r}",
                hint="set one with `nango-hooks config set-url URL`, or pass --url URL",
            )
        webhooks.append(webhook)
    if not key and opts.sign_mode != "none":
        raise ConfigError(
            f"no signing key for environment {settings.env!r}",
            hint="set it with `nango-hooks config set-key` (Nango: Environment Settings > "
            "Webhooks), or fire with --sign none",
        )
    for webhook in webhooks:
        webhook.headers = merge_headers(
            built.extra_headers,
            wire_headers(),
            signing.signature_headers(key or "", webhook.body, opts.sign_mode),
        )
        # Anything but both signatures is a deliberate negative test; a bad or missing
        # signature must be refused by a handler that verifies.
        webhook.negative = opts.sign_mode != "both"
        webhook.expect_rejection = opts.sign_mode in ("bad", "none")
    skipped = None if opts.force else _skip_reason(opts, settings, built.bodies)
    policy, breaker = delivery_policy(settings, opts.circuit_breaker)
    return DeliveryPlan(
        webhooks=webhooks,
        policy=policy,
        breaker=breaker,
        timeout=float(settings["timeout"]),
        env=settings.env,
        notes=notes,
        skipped=skipped,
        tls=tls or TLSOptions(),
    )
