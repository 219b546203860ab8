"""Renderers shared by several commands: attempts as they happen, dry runs, delivery
summaries, bodies. They only render what the core returns; they decide nothing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nango_cli.cli import output
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.delivery.history_rows import AttemptRecord
    from nango_cli.delivery.outbox import AttemptEvent, DeliveryPlan, SentWebhook


def attempt_result(attempt: AttemptRecord) -> Styled:
    if attempt.status_code is not None:
        return Styled(str(attempt.status_code), "green" if attempt.outcome == "success" else "red")
    return Styled(f"{attempt.error_class}: {attempt.error}", "red")


def render_attempt(event: AttemptEvent) -> None:
    """One line on stderr per attempt: where, the answer, the latency, what happens next."""
    output.err(*attempt_line(event))


def attempt_line(event: AttemptEvent) -> list[output.Segment]:
    attempt = event.attempt
    latency = f" {attempt.latency_ms:.0f} ms" if attempt.latency_ms is not None else ""
    then = f"retry in {attempt.wait_s:g}s: {event.reason}" if attempt.will_retry else event.reason
    hops = f" via {' → '.join(attempt.redirects)}" if attempt.redirects else ""
    segments: list[output.Segment] = [
        f"{event.webhook_id} {event.label} → {attempt.target}{hops} #{attempt.number} ",
        attempt_result(attempt),
        f"{latency} ({then})",
    ]
    if attempt.note:
        segments.append(Styled(f" [{attempt.note}]", "yellow"))
    return segments


def dry_run_data(plan: DeliveryPlan) -> dict[str, Any]:
    return {
        "dry_run": True,
        "env": plan.env,
        "targets": plan.targets,
        "skipped": plan.skipped,
        "notes": plan.notes,
        "webhooks": [
            {
                "targets": w.targets,
                "headers": w.headers,
                "body": w.body.decode("utf-8", "replace"),
                "replay_of": w.replay_of,
                "negative": w.negative,
            }
            for w in plan.webhooks
        ],
    }


def show_dry_run(plan: DeliveryPlan, json_mode: bool) -> None:
    """The exact requests: method and URL, headers, blank line, body bytes."""
    if json_mode:
        output.emit(dry_run_data(plan))
        return
    if plan.skipped:
        output.note(f"Nango would not send this: {plan.skipped} (use --force to send anyway)")
    for i, webhook in enumerate(plan.webhooks):
        if i:
            output.out()
        for target in webhook.targets or ["(no URL configured)"]:
            output.out(f"POST {target}")
        for name, value in webhook.headers.items():
            output.out(f"{name}: {value}")
        output.out()
        output.out(webhook.body.decode("utf-8", "replace"))


def sent_data(plan: DeliveryPlan, sent: list[SentWebhook]) -> dict[str, Any]:
    return {
        "env": plan.env,
        "targets": plan.targets,
        "policy": plan.policy.name,
        "webhooks": [s.to_dict() for s in sent],
    }


def summary(sent: list[SentWebhook], forgeries: dict[str, str] | None = None) -> None:
    """One line per webhook on stdout: id, delivered or failed, what it was; a forgery
    with the verdict phrase the core decided (`forgeries`, by webhook id)."""
    for item in sent:
        attempts = len(item.attempts)
        if item.expects_rejection:
            decided = str(item.record.meta.get("verdict") or "")
            status = Styled(
                (forgeries or {}).get(item.record.id, "a forgery, not judged"),
                {"refused": "green", "acted-on": "red"}.get(decided, "yellow"),
            )
        else:
            status = Styled("delivered", "green") if item.delivered else Styled("failed", "red")
        record = item.record
        label = item.label
        if record.meta.get("control"):
            label += " (the control: correctly signed)"
        replay = f"  replay of {record.replay_of}" if record.replay_of else ""
        connection = f"  connection {record.connection_id}" if record.connection_id else ""
        output.out(
            f"{record.id}  ",
            status,
            f"  {label}{connection}  ({attempts} attempt{'s' if attempts != 1 else ''}){replay}",
        )


def pretty_body(body: bytes) -> str:
    """A body for reading: indented JSON when it parses, else the text (escaped on output)."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body.decode("utf-8", "backslashreplace")
