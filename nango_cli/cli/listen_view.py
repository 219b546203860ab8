"""What `listen` prints: its banner, one line per webhook (or an NDJSON envelope),
its notices, and the summary when it stops. Rendering only."""

from typing import TYPE_CHECKING, Any

import typer

from nango_cli.cli import output, views
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.protocol.signatures import KeyRing
    from nango_cli.servers.listener.events import ListenOptions, ListenSummary, ReceivedEvent

_MARKS = {"valid": "✓", "invalid": "✗", "missing": "∅", "no-key": "?", "legacy-only": "✗"}


def finish(summary: "ListenSummary", options: "ListenOptions") -> None:
    """The summary line, and the exit the way the listener stopped calls for."""
    from nango_cli.errors import ExitCode, SignatureError, TimedOutError

    notices = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.notices.items()))
    filtered = f", {summary.filtered} filtered out" if summary.filtered else ""
    output.err(
        f"received {summary.received} webhook(s): {summary.valid} valid, "
        f"{summary.invalid} not valid{filtered} ({summary.reason})"
        + (f"; turned away or noticed: {notices}" if notices else "")
    )
    if summary.reason == "interrupted":
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if summary.reason == "invalid-signature":
        raise SignatureError(
            "a webhook arrived without a valid signature (--require-valid)",
            hint="`nango-hooks history --received` shows it with the likely cause",
        )
    if summary.reason == "timeout" and options.count is not None:
        raise TimedOutError(
            f"timed out after {options.timeout:g}s: {summary.received} of {options.count} "
            "webhook(s) arrived",
            hint="is the sender pointed at the URL printed at start?",
        )


def banner(url: str, options: "ListenOptions", env: str, keys: "KeyRing") -> None:
    """What the listener is doing, said once at start (the keys as they are then: a key
    set later applies to the next webhook, and a line says so)."""

    where = "" if options.path else " (any path)"
    output.err(Styled(f"Listening on {url}{where}", "bold"))
    if options.external:
        output.err(
            f"playing Nango for {options.external} webhooks: forwarding to {options.forward_to} "
            f"as integration {options.integration!r}"
            + (
                f", connection {options.connection_id!r}"
                if options.connection_id
                else " (no connection: unwrapped)"
            )
        )
    else:
        output.err(keys_line(env, keys))
        if options.reject_invalid and not (keys.current or keys.previous):
            output.warn(
                f"--reject-invalid and no signing key for environment {env!r}: every webhook "
                "is answered 401 until one is set (nango-hooks config set-key; it applies to "
                "the next webhook)"
            )
    if options.filters.active:
        f = options.filters
        parts = [
            f"{name} {', '.join(values)}"
            for name, values in (
                ("type", f.types),
                ("sync", f.syncs),
                ("model", f.models),
                ("connection", f.connections),
            )
            if values
        ]
        output.err(f"showing only webhooks with {'; '.join(parts)} (all are answered and stored)")
    if options.forward_to and not options.external:
        output.err(f"forwarding each webhook to {options.forward_to}")
    output.err(Styled("Ctrl-C to stop", "dim"))


def keys_line(env: str, keys: "KeyRing") -> str:
    """How signatures are verified, in one line (keys masked)."""
    from nango_cli.app.settings_table import mask_secret

    if not keys.current:
        return (
            f"no signing key for environment {env!r}: signatures are shown, not verified "
            "(nango-hooks config set-key; the listener picks it up at the next webhook)"
        )
    rotation = (
        f", and the previous key ({mask_secret(keys.previous)}) during a rotation"
        if keys.previous
        else ""
    )
    return (
        f"verifying signatures with the {env} signing key ({mask_secret(keys.current)})"
        f"{rotation}; a key set later applies to the next webhook"
    )


def render(event: Any, json_mode: bool, verbose: bool) -> list[tuple[Any, str]]:
    """The lines one event prints, as (stream, text), ready to write: a webhook, a
    notice of the listener's, or an attempt of the external mode."""
    from nango_cli.servers.listener.events import ListenerNotice, ReceivedEvent

    out, err = output.stdio()
    if isinstance(event, ListenerNotice):
        if json_mode:
            document = {"ok": True, "event": "notice", "data": event.to_dict()}
            return [(out, output.ndjson_line(document))]
        return [(err, output.render(err, Styled(f"{event.kind}: ", "yellow"), event.message))]
    if not isinstance(event, ReceivedEvent):  # an attempt of the external mode
        if json_mode:
            data = {
                "webhook_id": event.webhook_id,
                "reason": event.reason,
                **event.attempt.to_dict(include_body=False),
            }
            return [(out, output.ndjson_line({"ok": True, "event": "attempt", "data": data}))]
        return [(err, output.render(err, *views.attempt_line(event)))]
    if event.filtered and not verbose:
        return []
    if json_mode:
        document = {"ok": True, "event": "webhook", "data": event.to_dict()}
        return [(out, output.ndjson_line(document))]
    lines = [output.render(out, *_line(event))]
    verdict = event.signature_state
    reason = event.hmac.reason or event.legacy.reason
    if verdict == "legacy-only":
        reason = "only the legacy X-Nango-Signature header: verify X-Nango-Hmac-Sha256 instead"
    if verdict in ("invalid", "legacy-only") and reason:
        lines.append(output.render(out, Styled(f"    ✗ {reason}", "red")))
    elif verdict == "valid" and event.hmac.matched == "previous":
        lines.append(
            output.render(
                out, Styled("    ✓ signed with the previous key: rotation window", "yellow")
            )
        )
    for note in event.notes:
        if verbose or note.level != "warning":
            style = {"problem": "red", "warning": "yellow"}.get(note.level, "cyan")
            lines.append(output.render(out, Styled(f"    {note.level}: {note.text}", style)))
    if event.forward:
        f = event.forward
        result = str(f.status_code) if f.status_code is not None else f"error: {f.error}"
        text = f"    → {f.url} {result} {f.latency_ms:.0f} ms {f.excerpt}".replace("\n", " ")
        lines.append(output.render(out, text))
    if verbose:
        for name, value in event.headers.items():
            lines.append(output.render(out, Styled(f"    {name}: {value}", "dim")))
        for line in views.pretty_body(event.readable_body).splitlines():
            lines.append(output.render(out, f"    {line}"))
    return [(out, "".join(lines))]


def _line(event: "ReceivedEvent") -> list[output.Segment]:
    s = event.summary_fields()
    kind = s["type"] or ("external" if event.fields.get("type") == "external" else "?")
    if kind == "sync":
        subject = f"{s['sync_name']}/{s['model']}"
        if s["success"] is False:
            subject += " failed"
    elif kind == "auth":
        subject = f"{s['operation']} {s['provider_config_key']}"
        if s["success"] is False:
            subject += " failed"
    else:
        subject = str(s["provider_config_key"] or "")
    counts = ""
    if isinstance(s["counts"], dict):
        c = s["counts"]
        counts = f" +{c.get('added', '?')} ~{c.get('updated', '?')} -{c.get('deleted', '?')}"
    verdict = event.signature_state
    mark = _MARKS.get(verdict, "?")
    style = "green" if verdict == "valid" else ("yellow" if verdict == "no-key" else "red")
    connection = s["connection_id"] if isinstance(s["connection_id"], str) else "-"
    filtered = [Styled("  (filtered out)", "dim")] if event.filtered else []
    return [
        f"{event.created_at[11:19]} {event.method} {event.path}  {kind} {subject}  "
        f"{connection}{counts}  ",
        Styled(f"{mark} {verdict}", style),
        f"  {len(event.body)} B  → {event.answered}  {event.id}",
        *filtered,
    ]
