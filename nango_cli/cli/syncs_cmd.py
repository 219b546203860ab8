"""`nango-hooks syncs`: what the project and the config say about syncs and models."""

from typing import Annotated, Any

import typer

from nango_cli.cli import output
from nango_cli.cli.common import EnvOption, JsonOption, ProjectOption, settings, use
from nango_cli.cli.output import Column

# Fields shown per model in the table: a model can have a hundred thousand.
MAX_SHOWN = 500
app = typer.Typer(rich_markup_mode=None)


@app.command("syncs")
def syncs(
    ctx: typer.Context,
    fields: Annotated[
        bool, typer.Option("--fields", help="Also list each model's fields and types.")
    ] = False,
    project: ProjectOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the project's syncs, models and fields.

    From the compiled project (.nango/nango.json and schema.json) or nango.yaml,
    and the config's [syncs] tables.
    """
    from nango_cli.app import project as projects

    state = use(ctx, env, json_output)
    current = settings(state)
    found = projects.discover(project or current.project)
    rows: list[dict[str, Any]] = [
        {**s.to_dict(), "source": str(found.source)} for s in found.syncs.values()
    ]
    for name, s in current.file.syncs().items():
        rows.append(
            {
                "integration": s.integration,
                "sync": name,
                "models": list(s.models),
                "sync_type": s.sync_type,
                "runs": None,
                "webhook_subscriptions": [],
                "source": "config",
            }
        )
    models = sorted({m for r in rows for m in r["models"]})
    model_fields = {
        m: [{"name": n, "type": t, "required": r} for n, t, r in found.model_fields(m)]
        for m in models
    }
    if state.json:
        output.emit(
            {
                "project": str(found.source) if found.source else None,
                "project_kind": found.kind,
                "schema": str(found.schema_source) if found.schema_source else None,
                "syncs": rows,
                "models": model_fields,
            }
        )
        return
    if not rows:
        output.err(
            "no syncs found: no .nango/nango.json or nango.yaml here or in "
            "./nango-integrations/, and no [syncs] in the config"
        )
        return
    if found.source:
        output.err(f"project: {found.source}")
    output.table(
        ["integration", "sync", "models", "sync type", "webhook subscriptions", "source"],
        [
            [
                str(r["integration"] or "-"),
                str(r["sync"]),
                ", ".join(r["models"]) or "-",
                str(r["sync_type"] or "-"),
                ", ".join(r["webhook_subscriptions"]) or "-",
                str(r["source"]),
            ]
            for r in rows
        ],
    )
    if fields:
        for model in models:
            entries = model_fields[model]
            output.out()
            output.out(model, style="bold")
            if not entries:
                output.out("  (no schema: run `nango compile`, or add it under models:)")
                continue
            output.table(
                [Column("field", cut=False), "type", Column("required", cut=False)],
                [
                    [str(e["name"]), str(e["type"]), "yes" if e["required"] else "no"]
                    for e in entries[:MAX_SHOWN]
                ],
            )
            if len(entries) > MAX_SHOWN:
                more = len(entries) - MAX_SHOWN
                output.out(f"  … and {more:,} more fields (--json lists them all)", style="dim")
