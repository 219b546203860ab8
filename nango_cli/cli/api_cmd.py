"""`nango-hooks api`: a local stand-in for the Nango API a handler calls after a webhook."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import api_view, output
from nango_cli.cli.api_options import ActionResultOption, action_results
from nango_cli.cli.common import (
    EnvOption,
    JsonOption,
    StreamJsonOption,
    directories,
    live_settings,
    open_store,
    use,
)
from nango_cli.cli.output import Styled
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

if TYPE_CHECKING:
    from nango_cli.servers.skeleton import Notice
    from nango_cli.storage.api_log import ApiRequest

app = typer.Typer(rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def api(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option("--host", metavar="ADDRESS", help="Address to bind."),
    ] = "127.0.0.1",
    port: Annotated[int | None, port_option("--port", "api_port", "Port", short=True)] = None,
    webhooks: Annotated[
        bool,
        typer.Option(
            "--webhooks",
            help="Send the webhooks the calls cause, as Nango would: a sync's completion "
            "after /sync/trigger, the deletion webhook after DELETE /connections/{id}, the "
            "async_action webhook after an async /action/trigger (signed and sent as `fire` "
            "does).",
        ),
    ] = False,
    fire_on_trigger: Annotated[
        bool, typer.Option("--fire-on-trigger", hidden=True, help="Old name of --webhooks.")
    ] = False,
    action_result: ActionResultOption = None,
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

    GET /records (and the older /sync/records), GET, PATCH and DELETE
    /connections/{id}, GET /connections, POST /sync/trigger, /sync/start,
    /sync/pause, GET /sync/status, POST /action/trigger, GET /action/{id} and
    PATCH /records/prune, with Nango's shapes, cursors and errors. `fire` writes the
    records, connections and action results its webhooks announce. Point the SDK at
    it: new Nango({ host: 'http://127.0.0.1:3003', secretKey }). With --json, one
    envelope per request (NDJSON).

    Examples:

      nango-hooks api

      nango-hooks api --port 0 --webhooks

      nango-hooks api fault --status 500 --times 1   # while it (or dev) runs
    """
    if ctx.invoked_subcommand is not None:
        return

    from nango_cli.app import api_effects
    from nango_cli.servers import lifecycle
    from nango_cli.servers.api import ApiOptions, ApiServer
    from nango_cli.servers.skeleton import is_loopback

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
        declared_syncs=api_effects.declared_syncs(live),
        rotate_signing_key=api_effects.config_rotation(directories(state).config_file, current.env),
        settings=live,
        action_results=action_results(action_result),
        allowed_hosts=tuple(allow_host or ()),
        limits=server_limits(max_body, body_budget, max_connections, idle_timeout, body_timeout),
    )

    if not is_loopback(host):
        output.warn(
            f"serving on {host}, not loopback: anyone who can reach this machine can read "
            "the records"
        )
    with open_store() as store:
        if webhooks or fire_on_trigger:
            options.on_caused = api_effects.firing(
                live, store.path, api_view.caused_reporter(printer)
            )
        server = ApiServer(options, store, on_request, on_notice)
        # The token lets `check` on this machine use the internal endpoints.
        unit = lifecycle.Unit(server, "api", {"token": options.internal_token})
        try:
            served = lifecycle.serve_until_signalled(
                [unit],
                lambda urls: _banner(urls[0], current),
                env=current.env,
                state_dir=directories().data,
            )
        finally:
            printer.close()
    output.err(f"served {served} request(s)")
    raise typer.Exit(130)


def _banner(url: str, current: Any) -> None:
    from nango_cli.app.settings_table import mask_secret

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


@app.command("fault")
def fault(
    ctx: typer.Context,
    status: Annotated[
        int | None,
        typer.Option(
            "--status", metavar="CODE", min=400, max=599, help="Fail the next requests with it."
        ),
    ] = None,
    times: Annotated[
        int, typer.Option("--times", metavar="N", min=0, max=10_000, help="How many requests.")
    ] = 1,
    latency: Annotated[
        float | None,
        typer.Option("--latency", metavar="SECONDS", min=0, max=600, help="Answer them this late."),
    ] = None,
    short_pages: Annotated[
        int | None,
        typer.Option(
            "--short-pages",
            metavar="N",
            min=0,
            max=10_000,
            help="Pages of at most N records whatever the limit (0: full pages again).",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Drop every fault.")] = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Make the running API (`api` or `dev`) fail its next records requests.

    As Nango's API does on a bad day: a status (a 429 with Retry-After), latency, or
    pages shorter than the handler's limit that still carry a next_cursor.

    Example: nango-hooks api fault --status 500 --times 1
    """
    from nango_cli.app.scenarios.remote_api import fault_running_api
    from nango_cli.errors import UsageError

    state = use(ctx, env, json_output)
    if status is None and latency is None and short_pages is None and not clear:
        raise UsageError(
            "api fault needs --status, --latency, --short-pages or --clear",
            hint="e.g. nango-hooks api fault --status 500 --times 1",
        )
    api_url, chosen = fault_running_api(
        directories().data, status, times, latency, short_pages, clear
    )
    if state.json:
        output.emit({"api": api_url, "fault": chosen.__dict__})
        return
    said = [f"status {status}" if status else "", f"{latency:g}s late" if latency else ""]
    if short_pages is not None:
        said.append(f"pages of at most {short_pages}" if short_pages else "full pages")
    what = ", ".join(s for s in said if s) or "faults cleared"
    output.err(
        f"{api_url}: {what}" + (f" for the next {times} records request(s)" if not clear else "")
    )
