"""`nango-hooks fire`: build, sign, send and record a Nango webhook."""

from typing import TYPE_CHECKING, Annotated

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
    complete_syncs,
    delivery_flags,
    open_store,
    parse_counts,
    parse_pairs,
    read_input,
    settings,
    tls_options,
    use,
)

if TYPE_CHECKING:
    from nango_cli.app.fire import FireOptions
    from nango_cli.app.settings import Settings
    from nango_cli.delivery.outbox import DeliveryPlan, SentWebhook

SYNC = "Sync webhooks"
OTHER = "Other webhook types"
SEND = "Signing and sending"
LOAD = "Load mode"

app = typer.Typer(rich_markup_mode=None)


@app.command("fire", no_args_is_help=True)
def fire(
    ctx: typer.Context,
    sync: Annotated[
        str | None,
        typer.Option(
            "--sync",
            "-s",
            metavar="NAME",
            help="Sync name; fires its completion webhook (one per model).",
            autocompletion=complete_syncs,
            rich_help_panel=SYNC,
        ),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection", "-c", metavar="ID", help="connectionId.", rich_help_panel=SYNC
        ),
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration",
            "-i",
            metavar="KEY",
            help="providerConfigKey.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Model (repeatable): one webhook per model.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    added: Annotated[
        list[str] | None,
        typer.Option(
            "--added",
            metavar="N|MODEL=N",
            help="Records added. [default: 1]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    updated: Annotated[
        list[str] | None,
        typer.Option(
            "--updated",
            metavar="N|MODEL=N",
            help="Records updated. [default: 0]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    deleted: Annotated[
        list[str] | None,
        typer.Option(
            "--deleted",
            metavar="N|MODEL=N",
            help="Records deleted. [default: 0]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    initial: Annotated[
        bool,
        typer.Option("--initial", help="syncType INITIAL (first, full run).", rich_help_panel=SYNC),
    ] = False,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental", help="syncType INCREMENTAL (the default).", rich_help_panel=SYNC
        ),
    ] = False,
    webhook_sync: Annotated[
        bool,
        typer.Option(
            "--webhook",
            help="syncType WEBHOOK (run from an external webhook).",
            rich_help_panel=SYNC,
        ),
    ] = False,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant", metavar="NAME", help="syncVariant. [default: base]", rich_help_panel=SYNC
        ),
    ] = None,
    modified_after: Annotated[
        str | None,
        typer.Option(
            "--modified-after",
            metavar="TIME",
            help="modifiedAfter (ISO-8601). [default: now]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    checkpoint_from: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-from",
            metavar="JSON",
            help="checkpoints.from: a flat object, or null.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    checkpoint_to: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-to",
            metavar="JSON",
            help="checkpoints.to: a flat object, or null.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="A failure: sync error, or failed auth.", rich_help_panel=SYNC
        ),
    ] = False,
    error_message: Annotated[
        str | None,
        typer.Option(
            "--error-message",
            metavar="TEXT",
            help="error.description of a failure.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            metavar="OPERATION",
            help="Auth webhook: creation, override, refresh or deletion.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    auth_mode: Annotated[
        str | None,
        typer.Option(
            "--auth-mode",
            metavar="MODE",
            help="authMode: OAUTH2, API_KEY, …, or unknown. [default: OAUTH2]",
            rich_help_panel=OTHER,
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            metavar="KEY",
            help="Provider key, or unknown. [default: the integration]",
            rich_help_panel=OTHER,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="KEY=VALUE", help="Auth tag (repeatable).", rich_help_panel=OTHER
        ),
    ] = None,
    end_user_id: Annotated[
        str | None,
        typer.Option(
            "--end-user-id", metavar="ID", help="endUser.endUserId.", rich_help_panel=OTHER
        ),
    ] = None,
    end_user_email: Annotated[
        str | None,
        typer.Option(
            "--end-user-email",
            metavar="EMAIL",
            help="endUser.endUserEmail.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    organization_id: Annotated[
        str | None,
        typer.Option(
            "--organization-id",
            metavar="ID",
            help="endUser.organizationId.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    forward: Annotated[
        str | None,
        typer.Option(
            "--forward",
            metavar="FILE",
            help="Forward webhook wrapping this external JSON body (FILE or -).",
            rich_help_panel=OTHER,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            metavar="'NAME: VALUE'",
            help="External header for --forward (repeatable).",
            rich_help_panel=OTHER,
        ),
    ] = None,
    unmatched: Annotated[
        bool,
        typer.Option(
            "--unmatched",
            help="Forward as if no connection matched: raw body, unwrapped.",
            rich_help_panel=OTHER,
        ),
    ] = False,
    async_action: Annotated[
        bool,
        typer.Option(
            "--async-action", help="Async action completion webhook.", rich_help_panel=OTHER
        ),
    ] = False,
    action_id: Annotated[
        str | None,
        typer.Option(
            "--action-id",
            metavar="ID",
            help="payload.id of the async action. [default: random]",
            rich_help_panel=OTHER,
        ),
    ] = None,
    result: Annotated[
        str | None,
        typer.Option(
            "--result",
            metavar="JSON",
            help="The async action's result, served by `nango-hooks api` at GET /action/{id}.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    records_file: Annotated[
        str | None,
        typer.Option(
            "--records",
            metavar="FILE",
            help="Records the sync adds or updates, one JSON object with an id per line "
            "(FILE or -); the counts come from it.",
            rich_help_panel=SYNC,
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="N",
            help="Seed of the generated records' values.",
            rich_help_panel=SYNC,
        ),
    ] = 0,
    body: Annotated[
        str | None,
        typer.Option(
            "--body",
            metavar="FILE",
            help="Send this raw body as-is (FILE or -), signed byte-exactly.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    set_: SetOption = None,
    set_new: SetNewOption = None,
    to_listener: Annotated[
        bool,
        typer.Option(
            "--to-listener",
            help="Send to the `nango-hooks listen` running on this machine.",
            rich_help_panel=SEND,
        ),
    ] = False,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            "-u",
            metavar="URL",
            help="Send here instead of the configured URLs (repeatable).",
            rich_help_panel=SEND,
        ),
    ] = None,
    retry_policy: RetryPolicyOption = None,
    retries: RetriesOption = None,
    no_circuit_breaker: NoCircuitBreakerOption = False,
    timeout: TimeoutOption = None,
    sign: Annotated[
        str,
        typer.Option(
            "--sign",
            metavar="MODE",
            help="both, none, bad, legacy-only or hmac-only.",
            rich_help_panel=SEND,
        ),
    ] = "both",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Send even if the environment's toggles would not.",
            rich_help_panel=SEND,
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the exact request; send nothing.", rich_help_panel=SEND
        ),
    ] = False,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            metavar="N",
            min=1,
            help="Load mode: send N distinct webhooks.",
            rich_help_panel=LOAD,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            metavar="N",
            min=1,
            max=1000,
            help="Load mode: requests in flight.",
            rich_help_panel=LOAD,
        ),
    ] = 10,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            metavar="N/s",
            help="Load mode: at most N webhooks per second, e.g. 200/s.",
            rich_help_panel=LOAD,
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            metavar="PATH",
            help="Nango project to learn syncs from (directory, .nango/nango.json or "
            "nango.yaml). [default: ./ or ./nango-integrations/]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Simulate a Nango webhook: build, sign, send with retries, record.

    Examples:

      nango-hooks fire --sync github-tickets

      nango-hooks fire --sync github-tickets -m Ticket -m Comment --added Ticket=3

      nango-hooks fire --auth creation -i github --end-user-id u1

      nango-hooks fire --forward event.json -i github -H 'X-GitHub-Event: issues'
    """
    from nango_cli.app.fire import FireOptions, parse_supplied, prepare
    from nango_cli.errors import UsageError

    state = use(ctx, env, json_output)
    kinds = [
        k
        for k, on in (
            ("sync", sync),
            ("auth", auth),
            ("forward", forward),
            ("async_action", async_action),
            ("body", body),
        )
        if on
    ]
    if len(kinds) != 1:
        raise UsageError(
            "choose one webhook: --sync NAME, --auth OP, --forward FILE, --async-action "
            "or --body FILE",
            hint="e.g. nango-hooks fire --sync github-tickets",
        )
    sync_types = [
        t
        for t, on in (("INITIAL", initial), ("INCREMENTAL", incremental), ("WEBHOOK", webhook_sync))
        if on
    ]
    if len(sync_types) > 1:
        raise UsageError("--initial, --incremental and --webhook exclude each other")
    opts = FireOptions(
        kind=kinds[0],
        sync_name=sync,
        connection_id=connection,
        integration=integration,
        models=list(model or []),
        added=parse_counts(added, "--added"),
        updated=parse_counts(updated, "--updated"),
        deleted=parse_counts(deleted, "--deleted"),
        sync_type=sync_types[0] if sync_types else None,
        variant=variant,
        modified_after=modified_after,
        checkpoint_from=checkpoint_from,
        checkpoint_to=checkpoint_to,
        failed=failed,
        error_message=error_message,
        auth_operation=(auth or "creation").lower(),
        auth_mode=auth_mode,
        provider=provider,
        tags=dict(parse_pairs(tag, "--tag", "=")),
        end_user_id=end_user_id,
        end_user_email=end_user_email,
        organization_id=organization_id,
        forward_headers=parse_pairs(header, "--header", ":"),
        unmatched=unmatched,
        action_id=action_id,
        sets=list(set_ or []),
        new_fields=list(set_new or []),
        seed=seed,
        force=force,
        circuit_breaker=not no_circuit_breaker,
        sign_mode=sign,
        urls=[checked_url(u) for u in url or []] + (_listener_url() if to_listener else []),
        dry_run=dry_run,
        project=project,
        forward_body=read_input(forward, "--forward") if forward else None,
        raw_body=read_input(body, "--body") if body else None,
    )
    current = settings(state, delivery_flags(retry_policy, retries, timeout))
    if records_file:
        opts.supplied = parse_supplied(read_input(records_file, "--records"))
    if result is not None:
        opts.result = _parse_json_flag(result, "--result")
    tls = tls_options(ca_cert, insecure)
    if opts.supplied is not None:
        with open_store() as store:
            fire_plan = prepare(opts, current, store, tls)
    else:
        fire_plan = prepare(opts, current, tls=tls)
    for text in fire_plan.notes:
        output.note(text)
    if count is not None and not dry_run:
        from nango_cli.cli import load_view

        load_view.run(fire_plan, state, current["signing_key"], count, concurrency, rate, sign)
    elif dry_run:
        views.show_dry_run(fire_plan, state.json)
    else:
        send(fire_plan, opts, current, state.json)


def _listener_url() -> list[str]:
    from nango_cli.app import running
    from nango_cli.errors import NotFoundError

    found = running.running("listener")
    if found is None:
        raise NotFoundError(
            "no `nango-hooks listen` is running on this machine",
            hint="start one in another terminal: nango-hooks listen",
        )
    return [str(found["url"])]


def _parse_json_flag(text: str, flag: str) -> object:
    from nango_cli.errors import UsageError
    from nango_cli.protocol.serialization import parse_json

    try:
        return parse_json(text)
    except ValueError:
        raise UsageError(f"{flag} is not valid JSON", hint=f"e.g. {flag} '{{\"id\": 1}}'") from None


def send(plan: "DeliveryPlan", opts: "FireOptions", current: "Settings", json_mode: bool) -> None:
    """Deliver with the fire service, render; the exit code says how it went."""
    from nango_cli.app.fire import deliver

    if plan.skipped:
        output.note(f"not sent: {plan.skipped}; use --force to send anyway")
        if json_mode:
            output.emit({"sent": False, "skipped": plan.skipped, "webhooks": []})
        return
    with open_store() as store:
        sent = deliver(plan, opts, current, store, views.render_attempt).sent
    data = views.sent_data(plan, sent)
    if not json_mode:
        views.summary(sent)
    _exit_status(sent, data, json_mode)


def _exit_status(sent: list["SentWebhook"], data: dict[str, object], json_mode: bool) -> None:
    from nango_cli.errors import CheckFailedError, DeliveryError

    negatives = [s for s in sent if s.expects_rejection]
    accepted = [s for s in negatives if s.delivered]
    failed = [s for s in sent if s not in negatives and not s.delivered]
    unexpected = [s for s in negatives if not s.delivered and not s.rejected_as_expected]
    if accepted:
        raise CheckFailedError(
            f"the handler accepted {len(accepted)} webhook(s) with a bad or missing signature",
            hint="it must verify X-Nango-Hmac-Sha256 over the raw body and answer 4xx "
            "when it does not match",
            data=data,
        )
    if failed or unexpected:
        raise DeliveryError(
            f"{len(failed) + len(unexpected)} of {len(sent)} webhook(s) not delivered",
            hint="`nango-hooks history show ID` has every attempt; resend with "
            "`nango-hooks replay ID`",
            data=data,
        )
    if negatives and not json_mode:
        output.note("rejected as expected: the handler refuses webhooks it cannot verify")
    if json_mode:
        output.emit(data)
