"""`nango-hooks fire`: build, sign, send and record a Nango webhook."""

from typing import TYPE_CHECKING

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
    directories,
    finish_delivery,
    open_store,
    parse_counts,
    parse_pairs,
    read_input,
    settings,
    tls_options,
    use,
)
from nango_cli.cli.fire_options import (
    ActionIdOption,
    AddedOption,
    AsyncActionOption,
    AuthModeOption,
    AuthOption,
    BodyOption,
    CheckpointFromOption,
    CheckpointToOption,
    ConcurrencyOption,
    ConnectionOption,
    CountOption,
    DeletedOption,
    DryRunOption,
    EndUserEmailOption,
    EndUserIdOption,
    ErrorMessageOption,
    FailedOption,
    ForceOption,
    ForwardOption,
    HeaderOption,
    IncrementalOption,
    InitialOption,
    IntegrationOption,
    ModelOption,
    ModifiedAfterOption,
    NoControlOption,
    OrganizationIdOption,
    ProjectOption,
    ProviderOption,
    RateOption,
    RecordsFileOption,
    ResultOption,
    SeedOption,
    SignOption,
    SyncOption,
    TagOption,
    ToListenerOption,
    UnmatchedOption,
    UpdatedOption,
    UrlOption,
    VariantOption,
    WebhookSyncOption,
)

if TYPE_CHECKING:
    from nango_cli.app.fire import FireOptions
    from nango_cli.app.settings import Settings
    from nango_cli.delivery.outbox import DeliveryPlan


app = typer.Typer(rich_markup_mode=None)


@app.command("fire")
def fire(
    ctx: typer.Context,
    sync: SyncOption = None,
    connection: ConnectionOption = None,
    integration: IntegrationOption = None,
    model: ModelOption = None,
    added: AddedOption = None,
    updated: UpdatedOption = None,
    deleted: DeletedOption = None,
    initial: InitialOption = False,
    incremental: IncrementalOption = False,
    webhook_sync: WebhookSyncOption = False,
    variant: VariantOption = None,
    modified_after: ModifiedAfterOption = None,
    checkpoint_from: CheckpointFromOption = None,
    checkpoint_to: CheckpointToOption = None,
    failed: FailedOption = False,
    error_message: ErrorMessageOption = None,
    auth: AuthOption = None,
    auth_mode: AuthModeOption = None,
    provider: ProviderOption = None,
    tag: TagOption = None,
    end_user_id: EndUserIdOption = None,
    end_user_email: EndUserEmailOption = None,
    organization_id: OrganizationIdOption = None,
    forward: ForwardOption = None,
    header: HeaderOption = None,
    unmatched: UnmatchedOption = False,
    async_action: AsyncActionOption = False,
    action_id: ActionIdOption = None,
    result: ResultOption = None,
    records_file: RecordsFileOption = None,
    seed: SeedOption = 0,
    body: BodyOption = None,
    set_: SetOption = None,
    set_new: SetNewOption = None,
    to_listener: ToListenerOption = False,
    url: UrlOption = None,
    retry_policy: RetryPolicyOption = None,
    retries: RetriesOption = None,
    no_circuit_breaker: NoCircuitBreakerOption = False,
    timeout: TimeoutOption = None,
    sign: SignOption = "both",
    no_control: NoControlOption = False,
    force: ForceOption = False,
    dry_run: DryRunOption = False,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    count: CountOption = None,
    concurrency: ConcurrencyOption = 10,
    rate: RateOption = None,
    project: ProjectOption = None,
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
        forward_headers=_forward_headers(header),
        unmatched=unmatched,
        action_id=action_id,
        sets=list(set_ or []),
        new_fields=list(set_new or []),
        seed=seed,
        force=force,
        circuit_breaker=not no_circuit_breaker,
        sign_mode=sign,
        control=not no_control and count is None,
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
    if opts.supplied is None and dry_run:
        # A dry run leaves no state behind (no store is made); it shows the settings' URLs.
        fire_plan = prepare(opts, current, tls=tls)
    else:
        # The store says which --records are new, and where a connection's webhooks go
        # when its webhook_url_override was set through the API.
        with open_store() as store:
            fire_plan = prepare(opts, current, store, tls)
    for text in fire_plan.notes:
        output.note(text)
    if count is not None and not dry_run:
        from nango_cli.cli import load_run

        load_run.run(fire_plan, state, current.signing_key, count, concurrency, rate, sign)
    elif dry_run:
        views.show_dry_run(fire_plan, state.json)
    else:
        send(fire_plan, opts, current, state.json)


def _listener_url() -> list[str]:
    from nango_cli.app import running
    from nango_cli.errors import NotFoundError

    found = running.running(directories().data, "listener")
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
    from nango_cli.app.fire import judge

    with open_store() as store:
        fired = deliver(plan, opts, current, store, views.render_attempt)
        sent = fired.sent
        verdict = judge(sent, store)
    for applied in fired.applied:
        if applied.made_earlier:
            change = applied.change
            output.note(
                f"{applied.made_earlier} of the {change.model} record(s) it updates or deletes "
                f"did not exist for connection {change.connection_id}: made first, as if "
                "earlier runs had added them (the API serves them)"
            )
    data = views.sent_data(plan, sent)
    if not json_mode and any(s.expects_rejection for s in sent):
        from nango_cli.app.forgeries import phrases as forgery_phrases

        views.summary(sent, forgery_phrases(sent))
    elif not json_mode:
        views.summary(sent)
    finish_delivery(verdict, data, json_mode)


def _forward_headers(given: list[str] | None) -> list[tuple[str, str]]:
    from nango_cli.protocol.headers import refuse_hop_by_hop

    pairs = parse_pairs(given, "--header", ":")
    refuse_hop_by_hop([name for name, _ in pairs], "--header")
    return pairs
