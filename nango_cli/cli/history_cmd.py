"""`nango-hooks history …`: browse, inspect, export, import and prune recorded webhooks."""

from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output, views
from nango_cli.cli.common import (
    JsonOption,
    complete_syncs,
    confirmed,
    open_input,
    open_store,
    use,
)
from nango_cli.cli.output import Column, Styled

if TYPE_CHECKING:
    from nango_cli.delivery.history_rows import WebhookRecord
    from nango_cli.storage.webhooks import HistoryFilter

app = typer.Typer(
    help="Browse, inspect, export and import recorded webhooks.",
    rich_markup_mode=None,
)

TypeOption = Annotated[
    str | None,
    typer.Option("--type", "-t", metavar="TYPE", help="sync, auth, forward, async_action, …"),
]
SyncOption = Annotated[
    str | None,
    typer.Option(
        "--sync", "-s", metavar="NAME", help="Only this sync.", autocompletion=complete_syncs
    ),
]
ConnectionOption = Annotated[
    str | None,
    typer.Option("--connection", "-c", metavar="ID", help="Only this connectionId."),
]
FailedOption = Annotated[
    bool, typer.Option("--failed", help="Only webhooks not delivered (failed or interrupted).")
]
ReceivedOption = Annotated[
    bool, typer.Option("--received", help="Only webhooks received by listen.")
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="WHEN", help="Newer than: 2h, 30m, 7d or a date (2026-11-01)."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N rows.")
]
RevealOption = Annotated[
    bool, typer.Option("--reveal", help="Show credential headers (Authorization, Cookie, …).")
]
# One import line is at most this long (an exported 5 MB body in base64, its
# attempts and headers fit comfortably); a longer line is refused unread.
MAX_IMPORT_LINE = 32 * 1024 * 1024


def _filter(
    type_: str | None,
    sync: str | None,
    connection: str | None,
    failed: bool,
    received: bool,
    since: str | None,
    limit: int | None,
) -> "HistoryFilter":
    from nango_cli.app.history import parse_since
    from nango_cli.storage.webhooks import HistoryFilter

    return HistoryFilter(
        type=type_,
        sync_name=sync,
        connection_id=connection,
        failed=failed,
        direction="received" if received else None,
        since=parse_since(since) if since else None,
        limit=limit,
    )


def _list(ctx: typer.Context, flt: "HistoryFilter", json_output: bool) -> None:
    from nango_cli.app.history import outcome

    state = use(ctx, None, json_output)
    with open_store() as store:
        rows = store.list(flt)
    if state.json:
        output.emit([{**w.summary(), "outcome": outcome(w)} for w in rows])
        return
    if not rows:
        filtered = any(
            (flt.type, flt.sync_name, flt.connection_id, flt.failed, flt.direction, flt.since)
        )
        output.err("no webhooks match" if filtered else "no webhooks recorded yet")
        return
    output.table(
        [
            Column("id", cut=False),
            Column("time", cut=False),
            Column("dir", cut=False),
            "env",
            "type",
            "sync/model",
            "connection",
            "outcome",
            Column("latency", cut=False, justify="right"),
        ],
        [_row(w, outcome(w)) for w in rows],
        max_cell=60,
    )


def _row(w: "WebhookRecord", result: str) -> list[output.Segment]:
    subject = f"{w.sync_name}/{w.model}" if w.sync_name else (w.provider_config_key or "")
    style = "red" if w.status in ("failed", "interrupted") else ""
    return [
        w.id,
        w.created_at[:19].replace("T", " "),
        w.direction,
        w.env or "",
        w.type or "-",
        subject or "-",
        w.connection_id or "-",
        Styled(result, style) if style else result,
        f"{w.latency_ms:.0f} ms" if isinstance(w.latency_ms, int | float) else "-",
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
    """Browse, inspect, export and import recorded webhooks.

    With no subcommand, lists them, newest first (as `history list`).
    """
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
    """List recorded webhooks, newest first (also `history` alone)."""
    _list(ctx, _filter(type_, sync, connection, failed, received, since, limit), json_output)


@app.command("show")
def show(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="Id or unique id prefix.")],
    raw: Annotated[bool, typer.Option("--raw", help="Print the exact body bytes only.")] = False,
    reveal: RevealOption = False,
    json_output: JsonOption = False,
) -> None:
    """Headers, body and every attempt of one webhook."""
    from nango_cli.app.history import outcome
    from nango_cli.storage.export import redact_headers, to_export

    state = use(ctx, None, json_output)
    with open_store() as store:
        webhook = store.get(webhook_id)
    if raw:
        output.raw(webhook.body)
        return
    if state.json:
        output.emit(to_export(webhook, reveal))
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
    if webhook.negative:
        fields.append(("test", "deliberate negative (a bad or partial signature)"))
    for name, value in fields:
        output.out(f"{name:<12}", value)
    output.out()
    output.out("headers", style="bold")
    headers = webhook.headers if reveal else redact_headers(webhook.headers)
    for name, value in headers.items():
        output.out(f"  {name}: {value}")
    output.out()
    output.out("body", style="bold")
    output.out(views.pretty_body(webhook.body))
    if webhook.attempts:
        output.out()
        output.out("attempts", style="bold")
    for a in webhook.attempts:
        latency = f"{a.latency_ms:.0f} ms" if a.latency_ms is not None else "-"
        then = f", retried after {a.wait_s:g}s" if a.will_retry else ""
        output.out(
            f"  #{a.number} {a.started_at} → {a.target}  ",
            views.attempt_result(a),
            f"  {latency}{then}",
        )
        if a.redirects:
            output.out(f"     via {' → '.join(a.redirects)}")
        if a.note:
            output.out(Styled(f"     {a.note}", "yellow"))
        if a.response_body:
            excerpt = a.response_body[:300].decode("utf-8", "backslashreplace")
            more = " …" if len(a.response_body) > 300 or a.response_truncated else ""
            output.out("     response: ", excerpt.replace("\n", " "), more)


@app.command("export")
def export(
    ctx: typer.Context,
    out_file: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
    type_: TypeOption = None,
    sync: SyncOption = None,
    connection: ConnectionOption = None,
    failed: FailedOption = False,
    received: ReceivedOption = False,
    since: SinceOption = None,
    reveal: RevealOption = False,
    json_output: JsonOption = False,
) -> None:
    """Export webhooks as JSONL: one webhook per line, with body, headers and attempts."""
    from pathlib import Path

    from nango_cli.storage.export import export_line
    from nango_cli.support.files import atomic_write

    state = use(ctx, None, json_output)
    flt = _filter(type_, sync, connection, failed, received, since, None)
    with open_store() as store:
        rows = store.list(flt, with_attempts=True)
    text = "".join(export_line(w, reveal) + "\n" for w in reversed(rows))
    if out_file:
        written = atomic_write(Path(out_file), text.encode("utf-8", "surrogatepass"))
        data = {"exported": len(rows), "file": str(written.path)}
        if state.json:
            output.emit(data)
        else:
            through = " (through the symlink)" if written.through_symlink else ""
            output.err(f"exported {len(rows)} webhook(s) to {written.path}{through}")
    elif state.json:
        from nango_cli.storage.export import to_export

        output.emit([to_export(w, reveal) for w in reversed(rows)])
    else:
        stdout = output.stdio()[0]
        if stdout.isatty():
            # On a terminal, C1, bidi and other invisible characters from stored bodies
            # are written as \uXXXX escapes (the same JSON); a file or pipe gets the
            # exact export.
            from nango_cli.support.text import escape_json_controls

            text = escape_json_controls(text)
        stdout.write(text)
        stdout.flush()


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE", help="JSONL from `history export`, or -.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Import exported webhooks; ids already present are skipped (safe to run twice)."""
    from nango_cli.storage.export import iter_export

    state = use(ctx, None, json_output)
    with open_input(source, "import") as stream, open_store() as store:
        read, added = store.import_webhooks(iter_export(stream, source, MAX_IMPORT_LINE))
    if state.json:
        output.emit({"read": read, "imported": added, "skipped": read - added})
    else:
        output.err(f"imported {added} webhook(s); {read - added} already present")


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="WHEN", help="Delete webhooks older than this, e.g. 30d."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Delete webhooks older than a duration (and their attempts)."""
    from nango_cli.app.history import parse_since

    state = use(ctx, None, json_output)
    with open_store() as store:
        removed = store.prune(parse_since(older_than))
    if state.json:
        output.emit({"deleted": removed})
    else:
        output.err(f"deleted {removed} webhook(s) older than {older_than}")


@app.command("requests")
def requests_(
    ctx: typer.Context,
    since: SinceOption = None,
    limit: LimitOption = 20,
    json_output: JsonOption = False,
) -> None:
    """Requests `nango-hooks api` answered, newest first (as `history` lists webhooks)."""
    from nango_cli.app.history import parse_since
    from nango_cli.storage import api_log

    state = use(ctx, None, json_output)
    with open_store() as store:
        oldest_first = api_log.api_requests(store, parse_since(since) if since else None, limit)
    found = oldest_first[::-1]
    if state.json:
        output.emit([r.to_dict() for r in found])
        return
    if not found:
        output.err("no API requests: `nango-hooks api` records the ones it answers")
        return
    output.table(
        [
            Column("time", cut=False),
            Column("method", cut=False),
            "path",
            "model",
            "connection",
            Column("status", cut=False),
            Column("records", cut=False),
        ],
        [
            [
                r.created_at,
                r.method,
                r.path,
                r.model or "-",
                r.connection_id or "-",
                Styled(str(r.status), "green" if r.status < 400 else "red"),
                "-" if r.record_count is None else str(r.record_count),
            ]
            for r in found
        ],
    )


@app.command("clear")
def clear(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete the whole history (asks first on a terminal; needs --yes otherwise)."""

    state = use(ctx, None, json_output)
    if not confirmed(yes, "clearing the history", "Delete every recorded webhook?"):
        return
    with open_store() as store:
        removed = store.clear()
    if state.json:
        output.emit({"deleted": removed})
    else:
        output.err(f"deleted {removed} webhook(s)")
