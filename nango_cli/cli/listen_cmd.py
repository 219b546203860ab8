"""`nango-hooks listen`: a local listener that tails, verifies, stores and answers webhooks."""

from typing import Annotated

import typer

from nango_cli.cli import listen_view, serve_listener
from nango_cli.cli.common import (
    EnvOption,
    StreamJsonOption,
    checked_url,
    complete_syncs,
    live_settings,
    use,
)
from nango_cli.cli.server_options import (
    AllowHostOption,
    BodyBudgetOption,
    BodyTimeoutOption,
    IdleTimeoutOption,
    MaxBodyOption,
    MaxConnectionsOption,
    port_option,
    server_limits,
)

ANSWER = "Answering"
FILTER = "Filtering (answered and stored either way)"
WAIT = "Waiting in CI"
EXTERNAL = "Playing Nango for external APIs"

app = typer.Typer(rich_markup_mode=None)


@app.command("listen")
def listen(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", metavar="ADDRESS", help="Address to bind. [default: 127.0.0.1]"),
    ] = None,
    port: Annotated[int | None, port_option("--port", "listen_port", "Port", short=True)] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="PATH", help="Accept only this path (others get 404)."),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also print headers, the pretty body and filtered webhooks."
        ),
    ] = False,
    status: Annotated[
        int,
        typer.Option(
            "--status",
            metavar="CODE",
            min=100,
            max=599,
            help="Status to answer.",
            rich_help_panel=ANSWER,
        ),
    ] = 200,
    fail_first: Annotated[
        int,
        typer.Option(
            "--fail-first",
            metavar="N",
            min=0,
            help="Answer 500 to the first N requests.",
            rich_help_panel=ANSWER,
        ),
    ] = 0,
    delay: Annotated[
        float,
        typer.Option(
            "--delay",
            metavar="SECONDS",
            min=0,
            help="Seconds to wait before answering.",
            rich_help_panel=ANSWER,
        ),
    ] = 0.0,
    reject_invalid: Annotated[
        bool,
        typer.Option(
            "--reject-invalid",
            help="Answer 401 when the signature is not valid.",
            rich_help_panel=ANSWER,
        ),
    ] = False,
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to",
            metavar="URL",
            help="Proxy each webhook unchanged to this URL and answer with its response.",
            rich_help_panel=ANSWER,
        ),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            metavar="TYPE",
            help="Only webhooks of this type: sync, auth, forward, async_action (repeatable).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    sync: Annotated[
        list[str] | None,
        typer.Option(
            "--sync",
            "-s",
            metavar="NAME",
            help="Only this sync (repeatable).",
            autocompletion=complete_syncs,
            rich_help_panel=FILTER,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Only this model (repeatable).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    connection: Annotated[
        list[str] | None,
        typer.Option(
            "--connection",
            "-c",
            metavar="ID",
            help="Only this connectionId (repeatable); with --external, the connectionId "
            "the forwards carry (none: forwarded unwrapped).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            metavar="N",
            min=1,
            help="Exit 0 after N (matching) webhooks.",
            rich_help_panel=WAIT,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=0,
            help="Give up after SECONDS (exit 7 if --count was not reached).",
            rich_help_panel=WAIT,
        ),
    ] = None,
    require_valid: Annotated[
        bool,
        typer.Option(
            "--require-valid",
            help="Stop with exit 5 on a webhook whose signature is not valid.",
            rich_help_panel=WAIT,
        ),
    ] = False,
    max_body: MaxBodyOption = "5MB",
    body_budget: BodyBudgetOption = "64MB",
    max_connections: MaxConnectionsOption = 1000,
    idle_timeout: IdleTimeoutOption = 15.0,
    body_timeout: BodyTimeoutOption = 30.0,
    ui: Annotated[
        bool,
        typer.Option("--ui", help="Also serve the web inspector (`nango-hooks ui`)."),
    ] = False,
    ui_port: Annotated[
        int | None, port_option("--ui-port", "ui_port", "Port of the inspector")
    ] = None,
    ui_host: Annotated[
        str,
        typer.Option(
            "--ui-host",
            metavar="ADDRESS",
            help="Address of the inspector: loopback even when --host is not (a warning "
            "is printed for any other).",
        ),
    ] = "127.0.0.1",
    allow_host: AllowHostOption = None,
    allow_browser: Annotated[
        bool,
        typer.Option(
            "--allow-browser",
            help="With --external, accept requests a web page could have sent (refused "
            "otherwise: what arrives is signed and forwarded).",
            rich_help_panel=EXTERNAL,
        ),
    ] = False,
    external: Annotated[
        str | None,
        typer.Option(
            "--external",
            help="Receive PROVIDER's webhooks and forward them to --forward-to as Nango would.",
            metavar="PROVIDER",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration",
            "-i",
            metavar="KEY",
            help="providerConfigKey for --external.",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    trigger_sync: Annotated[
        str | None,
        typer.Option(
            "--trigger-sync",
            metavar="NAME",
            help="Also fire this sync's completion (syncType WEBHOOK).",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    env: EnvOption = None,
    json_output: StreamJsonOption = False,
) -> None:
    """Receive webhooks locally: print, verify, check, store, answer.

    Each webhook is printed, verified, checked against Nango's types and stored
    before it is answered as told. With --json, one envelope per line (NDJSON).

    Examples:

      nango-hooks listen

      nango-hooks listen --count 1 --timeout 30 --json > got.json &

      nango-hooks listen --fail-first 2 --delay 0.5

      nango-hooks listen --type sync --sync github-issues

      nango-hooks listen --forward-to http://127.0.0.1:3000/webhooks
    """
    from dataclasses import asdict

    from nango_cli.errors import UsageError
    from nango_cli.servers.listener.server import EventFilter, ListenOptions

    state = use(ctx, env, json_output, stream=True)
    live = live_settings(state)
    current = live()
    if path is not None and not path.startswith("/"):
        raise UsageError(f"invalid --path {path!r}", hint="it must start with /, e.g. /webhooks")
    if external:
        if not forward_to:
            raise UsageError("--external needs --forward-to APP_URL", hint="the app to forward to")
        if not current.signing_key:
            from nango_cli.errors import ConfigError

            raise ConfigError(
                f"--external signs what it forwards, and environment {current.env!r} has no "
                "signing key",
                hint="set it with `nango-hooks config set-key`",
            )
    external_connection = None
    if external and connection:
        if len(connection) > 1:
            raise UsageError("--external forwards as one connection", hint="give --connection once")
        external_connection = connection[0]
    options = ListenOptions(
        host=host or current.listen_host,
        port=current.listen_port if port is None else port,
        path=path or current.listen_path,
        keys=live.keys(),
        status=status,
        fail_first=fail_first,
        delay=delay,
        reject_invalid=reject_invalid,
        forward_to=checked_url(forward_to, "--forward-to") if forward_to else None,
        forward_timeout=float(current.timeout),
        **asdict(server_limits(max_body, body_budget, max_connections, idle_timeout, body_timeout)),
        count=count,
        timeout=timeout,
        require_valid=require_valid,
        env=current.env,
        filters=EventFilter(
            types=tuple(type_ or ()),
            syncs=tuple(sync or ()),
            models=tuple(model or ()),
            connections=() if external else tuple(connection or ()),
        ),
        external=external,
        integration=integration or current.provider_config_key or external,
        connection_id=external_connection,
        trigger_sync=trigger_sync,
        allowed_hosts=tuple(allow_host or ()),
        allow_browser=allow_browser,
    )
    if allow_browser and not external:
        raise UsageError("--allow-browser applies to --external", hint="drop it, or add --external")
    if trigger_sync:
        from nango_cli.app.bodies import FireOptions, resolve_sync

        # Refused now, not on the first external webhook.
        resolve_sync(
            FireOptions(sync_name=trigger_sync, integration=options.integration), current, []
        )
    summary = serve_listener.run(
        options,
        live,
        state.json,
        verbose,
        (ui_host, current.ui_port if ui_port is None else ui_port) if ui else None,
    )
    listen_view.finish(summary, options)
