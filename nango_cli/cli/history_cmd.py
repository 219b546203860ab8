"""`nango-hooks history …`: browse, inspect, export, import and prune recorded webhooks."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.state import JsonOption, use

if TYPE_CHECKING:
    from nango_cli.store import HistoryFilter, Store, WebhookRecord

app = typer.Typer(
    help="Browse, inspect, export and import recorded webhooks (newest first).",
    rich_markup_mode=None,
)

TypeOption = Annotated[
    str | None, typer.Option("--type", "-t", help="sync, auth, forward, async_action, …")
]
SyncOption = Annotated[str | None, typer.Option("--sync", "-s", help="Only this sync name.")]
ConnectionOption = Annotated[
    str | None, typer.Option("--connection", "-c", help="Only this connectionId.")
]
FailedOption = Annotated[
    bool, typer.Option("--failed", help="Only webhooks not delivered (failed or interrupted).")
]
ReceivedOption = Annotated[
    bool, typer.Option("--received", help="Only webhooks received by listen.")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Newer than: 2h, 30m, 7d or a date (2026-11-01).")
]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N rows.")]
RevealOption = Annotated[
    bool, typer.Option("--reveal", help="Show credential headers (Authorization, Cookie, …).")
]


def _filter(
    type_: str | None,
    sync: str | None,
    connection: str | None,
    failed: bool,
    received: bool,
    since: str | None,
    limit: int | None,
) -> HistoryFilter:
    from nango_cli.history import parse_since
    from nango_cli.store import HistoryFilter

    return HistoryFilter(
        type=type_,
        sync_name=sync,
        connection_id=connection,
        failed=failed,
        direction="received" if received else None,
        since=parse_since(since) if since else None,
        limit=limit,
    )


def open_store() -> Store:
    from nango_cli.store import Store

    store = Store.open_default()
    store.mark_interrupted()
    return store


def _list(ctx: typer.Context, flt: HistoryFilter, json_output: bool) -> None:
    from nango_cli.history import outcome

    state = use(ctx, None, json_output)
    with open_store() as store:
        rows = store.list(flt)
    if state.json:
        output.emit_json([{**w.summary(), "outcome": outcome(w)} for w in rows])
        return
    if not rows:
        filtered = any(
            (flt.type, flt.sync_name, flt.connection_id, flt.failed, flt.direction, flt.since)
        )
        output.err("no webhooks match" if filtered else "no webhooks recorded yet")
        return
    output.table(
        ["id", "time", "dir", "env", "type", "sync/model", "connection", "outcome", "latency"],
        [_row(w, outcome(w)) for w in rows],
    )


def _row(w: WebhookRecord, result: str) -> list[str]:
    subject = f"{w.sync_name}/{w.model}" if w.sync_name else (w.provider_config_key or "")
    return [
        w.id,
        w.created_at[:19].replace("T", " "),
        w.direction,
        output.safe(w.env or "", keep_newlines=False),
        output.safe(w.type or "-", keep_newlines=False),
        output.safe(subject or "-", keep_newlines=False),
        output.safe(w.connection_id or "-", keep_newlines=False),
        result,
        f"{w.latency_ms:.0f} ms" if w.latency_ms is not None else "-",
    ]


@app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    type_: TypeOption = None,
    sync: SyncOption = None,
    connection: ConnectionOption = None,
    failed: FailedOption = False,
    received: ReceivedOption = False,
    since: SinceOption = None,
    limit: LimitOption = 20,
    json_output: JsonOption = False,
) -> None:
    """List recorded webhooks, newest first (same as `history list`)."""
    if ctx.invoked_subcommand is None:
        _list(ctx, _filter(type_, sync, connection, failed, received, since, limit), json_output)


@app.command("list")
def list_(
    ctx: typer.Context,
    type_: TypeOption = None,
    sync: SyncOption = None,
    connection: ConnectionOption = None,
    failed: FailedOption = False,
    received: ReceivedOption = False,
    since: SinceOption = None,
    limit: LimitOption = 20,
    json_output: JsonOption = False,
) -> None:
    """List recorded webhooks, newest first."""
    _list(ctx, _filter(type_, sync, connection, failed, received, since, limit), json_output)


def pretty_body(body: bytes) -> str:
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "backslashreplace")
    return output.safe(text)


@app.command("show")
def show(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="Id or unique id prefix.")],
    raw: Annotated[bool, typer.Option("--raw", help="Print the exact body bytes only.")] = False,
    reveal: RevealOption = False,
    json_output: JsonOption = False,
) -> None:
    """Headers, body and every attempt of one webhook."""
    from nango_cli.history import outcome, redact_headers, to_export

    state = use(ctx, None, json_output)
    with open_store() as store:
        webhook = store.get(webhook_id)
    if raw:
        sys.stdout.buffer.write(webhook.body)
        sys.stdout.flush()
        return
    if state.json:
        output.emit_json(to_export(webhook, reveal))
        return
    fields = [
        ("id", webhook.id + (f"  (replay of {webhook.replay_of})" if webhook.replay_of else "")),
        ("time", webhook.created_at),
        ("direction", webhook.direction),
        ("env", webhook.env or "-"),
        ("type", webhook.type or "-"),
        ("sync/model", f"{webhook.sync_name}/{webhook.model}" if webhook.sync_name else "-"),
        ("connection", webhook.connection_id or "-"),
        ("integration", webhook.provider_config_key or "-"),
        ("outcome", outcome(webhook)),
        ("targets", ", ".join(webhook.targets) or "-"),
        ("size", f"{len(webhook.body)} bytes"),
    ]
    for name, value in fields:
        output.out(f"{name:<12}{output.safe(value, keep_newlines=False)}")
    for note_text in webhook.meta.get("notes", []):
        output.out(f"{'note':<12}{output.safe(str(note_text), keep_newlines=False)}")
    output.out()
    output.out("headers", "bold")
    headers = webhook.headers if reveal else redact_headers(webhook.headers)
    for name, value in headers.items():
        output.out(f"  {output.safe(name, False)}: {output.safe(value, False)}")
    output.out()
    output.out("body", "bold")
    output.out(pretty_body(webhook.body))
    if webhook.attempts:
        output.out()
        output.out("attempts", "bold")
    for a in webhook.attempts:
        result = str(a.status_code) if a.status_code is not None else f"{a.error_class}: {a.error}"
        latency = f"{a.latency_ms:.0f} ms" if a.latency_ms is not None else "-"
        then = f", retried after {a.wait_s:g}s" if a.will_retry else ""
        output.out(
            f"  #{a.number} {a.started_at} → {output.safe(a.target, False)}  {result}  {latency}"
            f"{then}"
        )
        if a.response_body:
            excerpt = a.response_body[:300].decode("utf-8", "backslashreplace")
            more = " …" if len(a.response_body) > 300 or a.response_truncated else ""
            output.out(f"     response: {output.safe(excerpt, keep_newlines=False)}{more}")


@app.command("export")
def export(
    ctx: typer.Context,
    out_file: Annotated[
        str | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    type_: TypeOption = None,
    sync: SyncOption = None,
    connection: ConnectionOption = None,
    failed: FailedOption = False,
    received: ReceivedOption = False,
    since: SinceOption = None,
    reveal: RevealOption = False,
) -> None:
    """Export webhooks as JSONL: one webhook per line, with body, headers and attempts."""
    from nango_cli.history import export_line

    flt = _filter(type_, sync, connection, failed, received, since, None)
    with open_store() as store:
        rows = store.list(flt, with_attempts=True)
    text = "".join(export_line(w, reveal) + "\n" for w in reversed(rows))
    if out_file:
        from pathlib import Path

        from nango_cli.config import atomic_write

        atomic_write(Path(out_file), text.encode("utf-8", "surrogatepass"))
        output.err(f"exported {len(rows)} webhook(s) to {output.safe(out_file)}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE", help="JSONL from `history export`, or -.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Import exported webhooks; ids already present are skipped (safe to run twice)."""
    from nango_cli.cli.inputs import read_input
    from nango_cli.errors import UsageError
    from nango_cli.history import from_export

    state = use(ctx, None, json_output)
    data = read_input(source, "import")
    webhooks = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            webhooks.append(from_export(json.loads(line)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{source}: line {number}: {exc}",
                hint="nothing was imported; the file must be `nango-hooks history export` output",
            ) from None
    with open_store() as store:
        added = store.import_webhooks(webhooks)
    if state.json:
        output.emit_json(
            {"read": len(webhooks), "imported": added, "skipped": len(webhooks) - added}
        )
    else:
        output.err(f"imported {added} webhook(s); {len(webhooks) - added} already present")


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete webhooks older than this, e.g. 30d.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Delete webhooks older than a duration (and their attempts)."""
    from nango_cli.history import parse_since

    state = use(ctx, None, json_output)
    with open_store() as store:
        removed = store.prune(parse_since(older_than))
    if state.json:
        output.emit_json({"deleted": removed})
    else:
        output.err(f"deleted {removed} webhook(s) older than {output.safe(older_than)}")


@app.command("clear")
def clear(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the whole history (asks first on a terminal; needs --yes otherwise)."""
    from nango_cli.errors import UsageError

    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "clearing the history needs confirmation", hint="pass --yes to confirm"
            )
        if not typer.confirm("Delete every recorded webhook?", default=False):
            output.err("nothing deleted")
            return
    with open_store() as store:
        removed = store.clear()
    output.err(f"deleted {removed} webhook(s)")
