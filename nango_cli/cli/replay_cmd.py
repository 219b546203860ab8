"""`nango-hooks replay`: resend stored, exported or raw webhooks."""

from __future__ import annotations

from typing import Annotated

import typer

from nango_cli.cli import delivery_view
from nango_cli.cli.state import EnvOption, JsonOption, settings, use


def replay(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="Ids or unique prefixes.")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Replay the most recent webhook.")] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="Replay webhooks not delivered (see --since).")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="With --failed: newer than 2h, 7d, a date…")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="With --failed: at most N.")
    ] = 50,
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", help="A raw body, or `history export` lines (FILE or -)."),
    ] = None,
    resign: Annotated[
        bool, typer.Option("--resign", help="Sign again with this environment's key.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Edit the body: path.to.field=JSON (re-signs; repeatable)."),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to", "-u", help="Send here instead of the environment's URLs (repeatable)."
        ),
    ] = None,
    retry_policy: Annotated[
        str | None, typer.Option("--retry-policy", help="docs, server or none.")
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries after the first.")
    ] = None,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Deadline per attempt.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact requests; send nothing.")
    ] = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Resend webhooks: the stored bytes and signatures unchanged, unless --resign or --set.

    Examples:

      nango-hooks replay 3f9a2c            # by id prefix

      nango-hooks replay --last --to http://127.0.0.1:3000/webhooks

      nango-hooks replay --failed --since 1h

      nango-hooks replay --file captured.jsonl
    """
    from nango_cli import replay as core
    from nango_cli.cli.fire_cmd import checked_url
    from nango_cli.cli.history_cmd import open_store
    from nango_cli.cli.inputs import read_input
    from nango_cli.delivery import make_policy
    from nango_cli.errors import ConfigError, NotFoundError, UsageError
    from nango_cli.fire import FirePlan
    from nango_cli.history import parse_since
    from nango_cli.store import HistoryFilter

    state = use(ctx, env, json_output)
    chosen = [
        n for n, on in (("ID", ids), ("--last", last), ("--failed", failed), ("--file", file)) if on
    ]
    if len(chosen) != 1:
        raise UsageError(
            "choose what to replay: IDs, --last, --failed or --file",
            hint="e.g. nango-hooks replay --last",
        )
    targets = [checked_url(u) for u in to or []]
    current = settings(state, delivery_view.delivery_flags(retry_policy, retries, timeout))
    if file:
        sources = core.from_file(read_input(file, "--file"), file)
    else:
        with open_store() as store:
            if ids:
                records = [store.get(i) for i in ids]
            else:
                flt = HistoryFilter(
                    direction="sent",
                    failed=failed,
                    limit=1 if last else limit,
                    since=parse_since(since) if since else None,
                )
                records = list(reversed(store.list(flt)))
                if not records:
                    raise NotFoundError(
                        "no webhooks to replay" + (" match" if failed else " are recorded"),
                        hint="see `nango-hooks history`",
                    )
        sources = [core.from_record(r) for r in records]
    webhooks = core.prepare(sources, current["signing_key"], resign, list(set_ or []), current.env)
    targets = targets or [u for u in (current["url"], current["secondary_url"]) if u]
    if not targets and not dry_run:
        raise ConfigError(
            f"no webhook URL for environment {current.env!r}",
            hint="pass --to URL, or set one with `nango-hooks config set-url URL`",
        )
    plan = FirePlan(
        webhooks=webhooks,
        targets=targets,
        policy=make_policy(current["retry_policy"], current["retries"]),
        timeout=float(current["timeout"]),
        env=current.env,
    )
    if dry_run:
        delivery_view.show_dry_run(plan, state.json)
    else:
        delivery_view.send(plan, state.json, concurrent=False)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
