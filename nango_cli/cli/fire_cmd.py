"""`nango-hooks fire`: build, sign, send and record a Nango webhook."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import delivery_view, output
from nango_cli.cli.state import EnvOption, JsonOption, settings, use

if TYPE_CHECKING:
    from nango_cli.config import Settings
    from nango_cli.fire import FirePlan

SYNC = "Sync webhooks"
OTHER = "Other webhook types"
SEND = "Signing and sending"
LOAD = "Load mode"


def register(app: typer.Typer) -> None:
    app.command("fire", no_args_is_help=True)(fire)


def fire(
    ctx: typer.Context,
    sync: Annotated[
        str | None,
        typer.Option(
            "--sync", "-s", help="Sync name; fires its completion webhook.", rich_help_panel=SYNC
        ),
    ] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", "-c", help="connectionId.", rich_help_panel=SYNC)
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option("--integration", "-i", help="providerConfigKey.", rich_help_panel=SYNC),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Model (repeatable): one webhook per model.", rich_help_panel=SYNC
        ),
    ] = None,
    added: Annotated[
        list[str] | None,
        typer.Option(
            "--added", help="Added count: N or MODEL=N. [default: 1]", rich_help_panel=SYNC
        ),
    ] = None,
    updated: Annotated[
        list[str] | None,
        typer.Option(
            "--updated", help="Updated count: N or MODEL=N. [default: 0]", rich_help_panel=SYNC
        ),
    ] = None,
    deleted: Annotated[
        list[str] | None,
        typer.Option(
            "--deleted", help="Deleted count: N or MODEL=N. [default: 0]", rich_help_panel=SYNC
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
        typer.Option("--variant", help="syncVariant. [default: base]", rich_help_panel=SYNC),
    ] = None,
    modified_after: Annotated[
        str | None,
        typer.Option(
            "--modified-after",
            help="modifiedAfter (ISO-8601). [default: now]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    checkpoint_from: Annotated[
        str | None,
        typer.Option("--checkpoint-from", help="checkpoints.from as JSON.", rich_help_panel=SYNC),
    ] = None,
    checkpoint_to: Annotated[
        str | None,
        typer.Option("--checkpoint-to", help="checkpoints.to as JSON.", rich_help_panel=SYNC),
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
            "--error-message", help="error.description of a failure.", rich_help_panel=SYNC
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth", help="Auth webhook: creation, override or refresh.", rich_help_panel=OTHER
        ),
    ] = None,
    auth_mode: Annotated[
        str,
        typer.Option("--auth-mode", help="authMode, e.g. OAUTH2, API_KEY.", rich_help_panel=OTHER),
    ] = "OAUTH2",
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider", help="Provider key. [default: the integration]", rich_help_panel=OTHER
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Auth tag k=v (repeatable).", rich_help_panel=OTHER),
    ] = None,
    end_user_id: Annotated[
        str | None, typer.Option("--end-user-id", help="endUser.endUserId.", rich_help_panel=OTHER)
    ] = None,
    end_user_email: Annotated[
        str | None,
        typer.Option("--end-user-email", help="endUser.endUserEmail.", rich_help_panel=OTHER),
    ] = None,
    organization_id: Annotated[
        str | None,
        typer.Option("--organization-id", help="endUser.organizationId.", rich_help_panel=OTHER),
    ] = None,
    forward: Annotated[
        str | None,
        typer.Option(
            "--forward",
            help="Forward webhook wrapping this external JSON body (FILE or -).",
            rich_help_panel=OTHER,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help="External header 'Name: value' for --forward (repeatable).",
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
            help="payload.id of the async action. [default: random]",
            rich_help_panel=OTHER,
        ),
    ] = None,
    body: Annotated[
        str | None,
        typer.Option(
            "--body",
            help="Send this raw body as-is (FILE or -), signed byte-exactly.",
            rich_help_panel=OTHER,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a field: path.to.field=JSON (repeatable).",
            rich_help_panel=OTHER,
        ),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            "-u",
            help="Send here instead of the configured URLs (repeatable).",
            rich_help_panel=SEND,
        ),
    ] = None,
    retry_policy: Annotated[
        str | None,
        typer.Option("--retry-policy", help="docs, server or none.", rich_help_panel=SEND),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option("--retries", help="Retries after the first attempt.", rich_help_panel=SEND),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Deadline per attempt, e.g. 20s.", rich_help_panel=SEND),
    ] = None,
    sign: Annotated[
        str,
        typer.Option(
            "--sign", help="both, none, bad, legacy-only or hmac-only.", rich_help_panel=SEND
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
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            min=1,
            help="Load mode: send N distinct webhooks.",
            rich_help_panel=LOAD,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
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
            help="Load mode: at most R webhooks per second, e.g. 200/s.",
            rich_help_panel=LOAD,
        ),
    ] = None,
    nango_yaml: Annotated[
        str | None,
        typer.Option(
            "--nango-yaml",
            help="nango.yaml to learn syncs from. [default: ./nango.yaml "
            "or ./nango-integrations/nango.yaml]",
            rich_help_panel=SYNC,
        ),
    ] = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Simulate a Nango webhook: build it exactly, sign it, POST it with retries, record it.

    Examples:

      nango-hooks fire --sync github-tickets

      nango-hooks fire --sync github-tickets -m Ticket -m Comment --added Ticket=3

      nango-hooks fire --auth creation -i github --end-user-id u1

      nango-hooks fire --forward event.json -i github -H 'X-GitHub-Event: issues'
    """
    from nango_cli.cli.inputs import parse_counts, parse_pairs, read_input
    from nango_cli.errors import UsageError
    from nango_cli.fire import FireOptions

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
        force=force,
        sign_mode=sign,
        urls=[checked_url(u) for u in url or []],
        dry_run=dry_run,
        nango_yaml=nango_yaml,
    )
    if checkpoint_from is not None or checkpoint_to is not None:
        opts.checkpoints_given = True
        opts.checkpoint_from = _json_arg("--checkpoint-from", checkpoint_from)
        opts.checkpoint_to = _json_arg("--checkpoint-to", checkpoint_to)
    if forward:
        opts.forward_body = read_input(forward, "--forward")
    if body:
        opts.raw_body = read_input(body, "--body")
    plan, current = _plan(state, opts, retry_policy, retries, timeout)
    if count is not None and not dry_run:
        from nango_cli.cli import load_view

        rate_per_s = load_view.parse_rate(rate)
        load_view.run(plan, state, current["signing_key"], count, concurrency, rate_per_s, sign)
        return
    if dry_run:
        delivery_view.show_dry_run(plan, state.json)
    else:
        delivery_view.send(plan, state.json)


def checked_url(url: str) -> str:
    from nango_cli.config import validate_url
    from nango_cli.errors import UsageError

    try:
        return validate_url(url)
    except ValueError as exc:
        raise UsageError(
            f"invalid --url {url!r}: {exc}", hint="e.g. http://127.0.0.1:3000/webhooks"
        ) from None


def _json_arg(option: str, text: str | None) -> Any:
    if text is None:
        return None
    from nango_cli.errors import UsageError

    try:
        return json.loads(text)
    except ValueError:
        raise UsageError(
            f"{option} is not valid JSON", hint='e.g. {"cursor":"2026-11-01"}'
        ) from None


def _plan(
    state: Any, opts: Any, retry_policy: str | None, retries: int | None, timeout: str | None
) -> tuple[FirePlan, Settings]:
    from nango_cli.fire import plan

    current = settings(state, delivery_view.delivery_flags(retry_policy, retries, timeout))
    result = plan(opts, current)
    for text in result.notes:
        output.note(text)
    return result, current
