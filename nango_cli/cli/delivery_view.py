"""Rendering shared by `fire` and `replay`: dry runs, attempts as they happen, summaries."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from nango_cli.cli import output

if TYPE_CHECKING:
    from nango_cli.fire import AttemptEvent, FirePlan, SentWebhook


def delivery_flags(
    retry_policy: str | None, retries: int | None, timeout: str | None
) -> dict[str, Any]:
    """--retry-policy/--retries/--timeout as setting values (the `flag` precedence level)."""
    from nango_cli.config import SETTINGS
    from nango_cli.errors import UsageError

    flags: dict[str, Any] = {}
    for name, raw in (("retry_policy", retry_policy), ("retries", retries), ("timeout", timeout)):
        if raw is None:
            continue
        try:
            flags[name] = SETTINGS[name].parse(raw)
        except ValueError as exc:
            raise UsageError(f"invalid --{name.replace('_', '-')} {raw!r}: {exc}") from None
    return flags


def show_dry_run(plan: FirePlan, json_mode: bool) -> None:
    """The exact requests: method and URL, headers, blank line, body bytes."""
    if json_mode:
        output.emit_json(
            {
                "dry_run": True,
                "env": plan.env,
                "targets": plan.targets,
                "skipped": plan.skipped,
                "webhooks": [
                    {
                        "headers": w.headers,
                        "body": w.body.decode("utf-8", "replace"),
                        "replay_of": w.replay_of,
                    }
                    for w in plan.webhooks
                ],
            }
        )
        return
    if plan.skipped:
        output.note(f"Nango would not send this: {plan.skipped} (use --force to send anyway)")
    targets = plan.targets or ["(no URL configured)"]
    for i, webhook in enumerate(plan.webhooks):
        if i:
            output.out()
        for target in targets:
            output.out(f"POST {output.safe(target)}")
        for name, value in webhook.headers.items():
            output.out(f"{output.safe(name)}: {output.safe(value)}")
        output.out()
        output.out(output.safe(webhook.body.decode("utf-8", "replace")))


def render_attempt(event: AttemptEvent) -> None:
    attempt = event.attempt
    if attempt.status_code is not None:
        style = "green" if attempt.outcome == "success" else "red"
        result = output.paint(str(attempt.status_code), style, sys.stderr)
    else:
        result = output.paint(f"{attempt.error_class}: {attempt.error}", "red", sys.stderr)
    latency = f" {attempt.latency_ms:.0f} ms" if attempt.latency_ms is not None else ""
    then = f"retry in {attempt.wait_s:g}s: {event.reason}" if attempt.will_retry else event.reason
    output.err(
        f"{event.webhook_id} {output.safe(event.label)} → {output.safe(attempt.target)} "
        f"#{attempt.number} {result}{latency} ({then})"
    )


def send(plan: FirePlan, json_mode: bool, concurrent: bool = True) -> None:
    """Record, deliver, render; exit 4 when any webhook was not delivered."""
    from nango_cli.fire import execute
    from nango_cli.store import Store

    if plan.skipped:
        output.note(f"not sent: {plan.skipped}; use --force to send anyway")
        if json_mode:
            output.emit_json({"ok": True, "sent": False, "skipped": plan.skipped, "webhooks": []})
        return
    with Store.open_default() as store:
        store.mark_interrupted()
        sent = execute(plan, store, render_attempt, concurrent=concurrent)
    failed = [s for s in sent if not s.delivered]
    if json_mode:
        output.emit_json(
            {
                "ok": not failed,
                "env": plan.env,
                "targets": plan.targets,
                "policy": plan.policy.name,
                "webhooks": [s.to_dict() for s in sent],
            }
        )
    else:
        summary(sent)
    if failed:
        exit_undelivered(
            len(failed),
            len(sent),
            "`nango-hooks history show ID` has every attempt; resend with `nango-hooks replay ID`",
        )


def exit_undelivered(failed: int, total: int, hint: str) -> None:
    """The delivery-failed error line and exit code 4.

    Only on stderr: in --json mode the document already printed says what failed.
    """
    from nango_cli.errors import DeliveryError, ExitCode

    output.show_error(
        DeliveryError(f"{failed} of {total} webhook(s) not delivered", hint=hint), json_mode=False
    )
    raise typer.Exit(int(ExitCode.DELIVERY_FAILED))


def summary(sent: list[SentWebhook]) -> None:
    for item in sent:
        attempts = sum(len(t.attempts) for t in item.result.targets) if item.result else 0
        status = "delivered" if item.delivered else "failed"
        style = "green" if item.delivered else "red"
        label = item.record.type or "body"
        if item.record.type == "sync":
            label = f"sync {item.record.sync_name}/{item.record.model}"
        replay = f"  replay of {item.record.replay_of}" if item.record.replay_of else ""
        output.out(
            f"{item.record.id}  {output.paint(status, style, sys.stdout)}  "
            f"{output.safe(label)}  ({attempts} attempt{'s' if attempts != 1 else ''}){replay}"
        )
