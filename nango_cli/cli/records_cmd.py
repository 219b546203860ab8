"""`nango-hooks records …`: the records `fire` wrote and `nango-hooks api` serves."""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import JsonOption, confirmed, open_store, use
from nango_cli.cli.output import Column, Styled

if TYPE_CHECKING:
    from nango_cli.storage.record_pages import StoredRecord

app = typer.Typer(
    help="List, show and clear the records the API serves.",
    rich_markup_mode=None,
)

ConnectionOption = Annotated[
    str | None,
    typer.Option("--connection", "-c", metavar="ID", help="Only this connectionId."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", metavar="MODEL", help="Only this model.")
]
LimitOption = Annotated[
    int, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N records.")
]
LiveOption = Annotated[bool, typer.Option("--live", help="Leave out deleted records.")]
_STYLE = {"ADDED": "green", "UPDATED": "yellow", "DELETED": "red"}


@app.callback(invoke_without_command=True)
def records(
    ctx: typer.Context,
    connection: ConnectionOption = None,
    model: ModelOption = None,
    live: LiveOption = False,
    limit: LimitOption = 20,
    json_output: JsonOption = False,
) -> None:
    """List, show and clear the records the API serves.

    `fire --sync` writes the records its webhook announces (added, updated, deleted)
    before it sends; `nango-hooks api` serves them. With no subcommand, lists them,
    most recently changed first (as `records list`).
    """
    if ctx.invoked_subcommand is None:
        _list(ctx, connection, model, live, limit, json_output)


@app.command("list")
def list_(
    ctx: typer.Context,
    connection: ConnectionOption = None,
    model: ModelOption = None,
    live: LiveOption = False,
    limit: LimitOption = 20,
    json_output: JsonOption = False,
) -> None:
    """List records, most recently changed first (also `records` alone)."""
    _list(ctx, connection, model, live, limit, json_output)


def _list(
    ctx: typer.Context,
    connection: str | None,
    model: str | None,
    live: bool,
    limit: int,
    json_output: bool,
) -> None:
    from nango_cli.storage import record_pages

    state = use(ctx, None, json_output)
    with open_store() as store:
        found = record_pages.list_records(
            store, connection, model, include_deleted=not live, limit=limit
        )
    if state.json:
        output.emit([r.to_dict() for r in found])
        return
    if not found:
        output.err("no records: `nango-hooks fire --sync NAME` writes the ones it announces")
        return
    output.table(
        [
            Column("id", cut=False),
            "model",
            "connection",
            Column("last action", cut=False),
            Column("modified", cut=False),
            "integration",
        ],
        [_row(r) for r in found],
    )


def _row(record: "StoredRecord") -> list["str | Styled"]:
    action = record.last_action
    return [
        record.record_id,
        record.model + ("" if record.variant == "base" else f"::{record.variant}"),
        record.connection_id,
        Styled(action, _STYLE.get(action, "")),
        record.last_modified_at,
        record.provider_config_key,
    ]


@app.command("show")
def show(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The record's id.")],
    connection: ConnectionOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """One record: its fields and Nango's metadata (as GET /records returns it)."""
    from nango_cli.errors import NotFoundError, UsageError
    from nango_cli.storage import record_pages

    state = use(ctx, None, json_output)
    with open_store() as store:
        found = record_pages.list_records(store, connection, model, record_id=record_id, limit=None)
    if not found:
        raise NotFoundError(
            f"no record with id {record_id!r}", hint="`nango-hooks records` lists them"
        )
    if len(found) > 1:
        raise UsageError(
            f"{len(found)} records have id {record_id!r}",
            hint="pick one with --model and --connection",
        )
    record = found[0]
    if state.json:
        output.emit(record.to_dict())
        return
    output.out(
        Styled(record.record_id, "bold"),
        f"  {record.model} · {record.connection_id} · {record.provider_config_key}",
    )
    for name, value in record.to_dict()["_nango_metadata"].items():
        output.out(Styled(f"  {name}: ", "dim"), "-" if value is None else str(value))
    output.out(json.dumps(record.data, indent=2, ensure_ascii=False))


@app.command("clear")
def clear(
    ctx: typer.Context,
    connection: ConnectionOption = None,
    model: ModelOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete records (all, or one connection's or model's): the next fire starts afresh."""
    from nango_cli.storage import records

    state = use(ctx, None, json_output)
    scope = " ".join(
        part
        for part in (
            f"of model {model}" if model else "",
            f"of connection {connection}" if connection else "",
        )
        if part
    )
    if not confirmed(yes, "clearing records", f"Delete every record {scope}".rstrip() + "?"):
        return
    with open_store() as store:
        removed = records.clear_records(store, connection, model)
    if state.json:
        output.emit({"deleted": removed})
    else:
        output.err(f"deleted {removed} record(s)")
