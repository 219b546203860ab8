"""`nango-hooks replay`: resend stored, exported or raw webhooks."""

from typing import Annotated

import typer

from nango_cli.cli import output, views
from nango_cli.cli.common import (
    CaCertOption,
    EnvOption,
    InsecureOption,
    JsonOption,
    NoCircuitBreakerOption,
    RetriesOption,
    RetryPolicyOption,
    SetNewOption,
    SetOption,
    TimeoutOption,
    checked_url,
    delivery_flags,
    finish_delivery,
    open_store,
    read_input,
    settings,
    tls_options,
    use,
)

app = typer.Typer(rich_markup_mode=None)


@app.command("replay")
def replay(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="ID", help="Ids or unique id prefixes.", show_default=False),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Replay the most recent webhook.")] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="Replay webhooks not delivered (deliberate negatives excluded)."
        ),
    ] = False,
    include_negative: Annotated[
        bool,
        typer.Option(
            "--include-negative",
            help="With --failed: also the deliberate negatives (--sign bad, check's).",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="With --failed: newer than 2h, 7d, a date…"),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", metavar="N", min=1, help="With --failed: at most N."),
    ] = 50,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="A raw body, or `history export` lines (FILE or -).",
        ),
    ] = None,
    resign: Annotated[
        bool, typer.Option("--resign", help="Sign again with this environment's key.")
    ] = False,
    set_: SetOption = None,
    set_new: SetNewOption = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            "-u",
            metavar="URL",
            help="Send here instead of the environment's URLs (repeatable).",
        ),
    ] = None,
    retry_policy: RetryPolicyOption = None,
    retries: RetriesOption = None,
    no_circuit_breaker: NoCircuitBreakerOption = False,
    timeout: TimeoutOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact requests; send nothing.")
    ] = False,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Resend stored webhooks, unchanged unless --resign or --set.

    Examples:

      nango-hooks replay 3f9a2c            # by id prefix

      nango-hooks replay --last --to http://127.0.0.1:3000/webhooks

      nango-hooks replay --failed --since 1h

      nango-hooks replay --file captured.jsonl
    """
    from nango_cli.app import replay as core
    from nango_cli.app.history import parse_since
    from nango_cli.errors import NotFoundError, UsageError
    from nango_cli.storage.webhooks import HistoryFilter

    state = use(ctx, env, json_output)
    chosen = [
        n for n, on in (("ID", ids), ("--last", last), ("--failed", failed), ("--file", file)) if on
    ]
    if len(chosen) != 1:
        raise UsageError(
            "choose what to replay: IDs, --last, --failed or --file",
            hint="e.g. nango-hooks replay --last",
        )
    explicit = [checked_url(u, "--to") for u in to or []]
    current = settings(state, delivery_flags(retry_policy, retries, timeout))
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
                    include_negative=include_negative or not failed,
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
    plan = core.plan(
        sources,
        current,
        explicit,
        resign,
        list(set_ or []),
        list(set_new or []),
        not no_circuit_breaker,
        tls_options(ca_cert, insecure),
        dry_run,
    )
    for text in plan.notes:
        output.note(text)
    if dry_run:
        views.show_dry_run(plan, state.json)
        return
    from nango_cli.app.fire import judge

    with open_store() as store:
        sent = core.send(plan, store, views.render_attempt)
        verdict = judge(sent, store)  # a replayed forgery is judged as fire judges one
    data = views.sent_data(plan, sent)
    if not state.json:
        from nango_cli.app.forgeries import phrases as forgery_phrases

        views.summary(sent, forgery_phrases(sent))
    finish_delivery(verdict, data, state.json)
