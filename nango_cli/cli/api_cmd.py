"""`nango-hooks api`: a local stand-in for the Nango API a handler calls after a webhook."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import api_view, output
from nango_cli.cli.common import (
    AllowHostOption,
    BodyBudgetOption,
    BodyTimeoutOption,
    EnvOption,
    IdleTimeoutOption,
    MaxBodyOption,
    MaxConnectionsOption,
    StreamJsonOption,
    live_settings,
    open_store,
    server_limits,
    use,
)
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.app.live_settings import LiveSettings
    from nango_cli.servers.skeleton import Notice
    from nango_cli.storage.api_log import ApiRequest

app = typer.Typer(rich_markup_mode=None)


@app.command("api")
def api(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option("--host", metavar="ADDRESS", help="Address to bind."),
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            metavar="PORT",
            min=0,
            max=65535,
            help="Port (0: any free one). [default: the api_port setting, 3003]",
        ),
    ] = None,
    fire_on_trigger: Annotated[
        bool,
        typer.Option(
            "--fire-on-trigger",
            help="On POST /sync/trigger, fire each sync's completion webhook (as Nango would "
            "after the run).",
        ),
    ] = False,
    allow_host: AllowHostOption = None,
    max_body: MaxBodyOption = "1MB",
    body_budget: BodyBudgetOption = "16MB",
    max_connections: MaxConnectionsOption = 1000,
    idle_timeout: IdleTimeoutOption = 15.0,
    body_timeout: BodyTimeoutOption = 30.0,
    env: EnvOption = None,
    json_output: StreamJsonOption = False,
) -> None:
    """Serve the Nango API calls a webhook handler makes, from what was fired.

    GET /records (and the older /sync/records), GET /connections and
    /connections/{id}, GET /action/{id}, POST /sync/trigger and PATCH
    /records/prune, with Nango's shapes, cursors and errors. `fire` writes the
    records, connections and action results its webhooks announce. Point the SDK at
    it: new Nango({ host: 'http://127.0.0.1:3003', secretKey }). With --json, one
    envelope per request (NDJSON).

    Examples:

      nango-hooks api

      nango-hooks api --port 0 --fire-on-trigger
    """

    from nango_cli.app import running
    from nango_cli.servers.api import ApiOptions, ApiServer
    from nango_cli.servers.skeleton import is_loopback
    from nango_cli.support import eventloop

    state = use(ctx, env, json_output, stream=True)
    out, err = output.stdio()
    live = live_settings(state)
    current = live()
    printer = output.BackgroundPrinter()

    def on_request(request: "ApiRequest") -> None:
        document = {"ok": True, "event": "request", "data": request.to_dict()}
        printer.submit(
            out, output.ndjson_line(document) if state.json else api_view.request_line(request)
        )

    def on_notice(notice: "Notice") -> None:
        if state.json:
            document = {"ok": True, "event": "notice", "data": notice.to_dict()}
            printer.submit(out, output.ndjson_line(document))
        else:
            line = output.render(err, Styled(f"{notice.kind}: ", "yellow"), notice.message)
            printer.submit(err, line)

    options = ApiOptions(
        host=host,
        port=current.api_port if port is None else port,
        # Read afresh for each request: a secret key set after the start applies at once.
        secret_key=lambda: live().secret_key,
        env=current.env,
        on_trigger=_trigger(live, printer) if fire_on_trigger else None,
        allowed_hosts=tuple(allow_host or ()),
        limits=server_limits(max_body, body_budget, max_connections, idle_timeout, body_timeout),
    )

    def on_ready(url: str) -> None:
        _banner(url, current)
        # The token lets `check` on this machine use the internal endpoints.
        running.announce("api", url, current.env, token=options.internal_token)

    if not is_loopback(host):
        output.warn(
            f"serving on {host}, not loopback: anyone who can reach this machine can read "
            "the records"
        )
    with open_store() as store:
        server = ApiServer(options, store, on_request, on_notice)

        try:
            served = eventloop.run_until_signalled(lambda: server.run(on_ready), server.stop)
        finally:
            running.withdraw("api")
            printer.close()
    output.err(f"served {served} request(s)")
    raise typer.Exit(130)


def _banner(url: str, current: Any) -> None:
    from nango_cli.app.settings import mask_secret

    output.err(Styled(f"Nango API on {url}", "bold"))
    key = current.secret_key
    if key:
        output.err(
            f"requests must carry Authorization: Bearer <the {current.env} secret_key> "
            f"({mask_secret(key)}; read from the config for each request)"
        )
    else:
        output.err(
            f"no secret_key for environment {current.env!r}: any bearer key is accepted "
            "(nango-hooks config set-key --secret KEY requires one, from the next request)"
        )
    output.err(f"SDK: new Nango({{ host: '{url}', secretKey }})")
    output.err(Styled("Ctrl-C to stop", "dim"))


def _trigger(live: "LiveSettings", printer: "output.BackgroundPrinter") -> Any:
    """--fire-on-trigger: each triggered sync's completion webhook, fired as `fire` would."""
    from nango_cli.app.fire import FireOptions
    from nango_cli.app.fire import fire as fire_service
    from nango_cli.errors import NangoHooksError

    def fire(connection_id: str, provider_config_key: str, names: list[str]) -> None:
        for name in names:
            opts = FireOptions(
                kind="sync",
                sync_name=name,
                connection_id=connection_id,
                integration=provider_config_key,
            )
            try:
                with open_store() as store:
                    sent = fire_service(opts, live(), store).sent
            except NangoHooksError as exc:
                text = f"--fire-on-trigger: {name}: {exc.message}"
                printer.submit(
                    printer.stderr, output.render(printer.stderr, Styled(text, "yellow"))
                )
                continue
            for item in sent:
                outcome = "delivered" if item.delivered else "not delivered"
                text = f"--fire-on-trigger: sync {name}/{item.record.model} {outcome}"
                printer.submit(
                    printer.stderr, output.render(printer.stderr, f"{text} ({item.record.id})")
                )

    return fire
