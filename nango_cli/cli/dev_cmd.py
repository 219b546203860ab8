"""`nango-hooks dev`: the API stand-in, a listener and the inspector, in one process."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import api_view, listen_view, output
from nango_cli.cli.api_options import ActionResultOption, action_results
from nango_cli.cli.common import (
    EnvOption,
    StreamJsonOption,
    directories,
    live_settings,
    open_store,
    use,
)
from nango_cli.cli.output import Styled
from nango_cli.cli.server_options import (
    port_option,
)

if TYPE_CHECKING:
    from nango_cli.app.settings import Settings
    from nango_cli.servers.dev import DevUrls

app = typer.Typer(rich_markup_mode=None)


@app.command("dev")
def dev(
    ctx: typer.Context,
    api_port: Annotated[
        int | None, port_option("--api-port", "api_port", "Port of the Nango API stand-in")
    ] = None,
    listen_port: Annotated[
        int | None, port_option("--listen-port", "listen_port", "Port of the listener")
    ] = None,
    ui_port: Annotated[
        int | None, port_option("--ui-port", "ui_port", "Port of the inspector")
    ] = None,
    no_forward: Annotated[
        bool,
        typer.Option(
            "--no-forward", help="The listener only receives (does not forward to your handler)."
        ),
    ] = False,
    action_result: ActionResultOption = None,
    env: EnvOption = None,
    json_output: StreamJsonOption = False,
) -> None:
    """Develop a handler: the Nango API, a listener, the inspector, one Ctrl-C.

    The API stand-in is what your handler calls back (NANGO_HOST), and your
    backend's calls to it cause the webhooks Nango would send (a /sync/trigger's
    completion, a deleted connection's auth webhook); the listener
    verifies and stores what comes to it and forwards it to your handler (the
    environment's url); the inspector shows every webhook and the API calls your
    handler made. Then, in another terminal: nango-hooks fire, nango-hooks check.
    Each follows the config file: a key set meanwhile applies to the next request.
    With --json, a `ready` envelope with the three addresses, then one per event
    (NDJSON).

    Example: nango-hooks dev
    """
    from nango_cli.app import api_effects
    from nango_cli.servers.dev import DevPorts, DevServers, run_forever

    state = use(ctx, env, json_output, stream=True)
    live = live_settings(state)
    current = live()
    printer = output.BackgroundPrinter()
    out = output.stdio()[0]

    def on_event(event: Any) -> None:
        for stream, text in listen_view.render(event, state.json, False):
            printer.submit(stream, text)

    def on_request(request: Any) -> None:
        document = {"ok": True, "event": "request", "data": request.to_dict()}
        line = output.ndjson_line(document) if state.json else api_view.request_line(request)
        printer.submit(out, line)

    ports = DevPorts(
        api=current.api_port if api_port is None else api_port,
        listen=current.listen_port if listen_port is None else listen_port,
        ui=current.ui_port if ui_port is None else ui_port,
    )
    with open_store() as store:
        servers = DevServers(
            live,
            store,
            ports,
            on_event,
            on_request,
            forward=not no_forward,
            on_caused=api_effects.firing(live, store.path, api_view.caused_reporter(printer)),
            rotate=api_effects.config_rotation(directories(state).config_file, current.env),
            action_results=action_results(action_result),
        )

        def on_ready(urls: "DevUrls") -> None:
            _banner(urls, current, servers.forward_to)
            if state.json:  # scripts read the addresses from the first line
                ready = {"api": urls.api, "listener": urls.listener, "inspector": urls.inspector}
                document = {"ok": True, "event": "ready", "data": {**ready, "env": current.env}}
                printer.submit(out, output.ndjson_line(document))

        try:
            run_forever(servers, on_ready, directories().data)
        finally:
            printer.close()
    raise typer.Exit(130)


def _banner(urls: "DevUrls", current: "Settings", forward_to: str | None) -> None:
    """One start-up block: what runs, what to set in the handler, what to run next."""
    from nango_cli.app.settings_table import mask_secret

    env = current.env
    output.err(Styled(f"nango-hooks dev: environment {env}", "bold"))
    output.err(f"  Nango API   {urls.api}")
    where = f"; forwards to {forward_to}" if forward_to else ""
    output.err(f"  listener    {urls.listener}  (verifies and stores{where})")
    output.err(f"  inspector   {urls.inspector}")
    output.err("")
    output.err(Styled("Set in your handler:", "bold"))
    output.err(f"  NANGO_HOST={urls.api}")
    secret = current.secret_key
    if secret:
        output.err(f"  NANGO_SECRET_KEY=<the {env} secret_key, {mask_secret(secret)}>")
    else:
        output.err(
            "  NANGO_SECRET_KEY=<anything: no secret_key is set; "
            "nango-hooks config set-key --secret KEY requires one>"
        )
    key = current.signing_key
    if key:
        output.err(f"  the webhook signing key: the {env} signing_key ({mask_secret(key)})")
    else:
        output.err("  the webhook signing key: none yet (nango-hooks config set-key)")
    handler = current.url
    output.err(
        f"Webhooks go to your handler at {handler} (the {env} url)"
        if handler
        else "Your handler's URL is not set: nango-hooks config set-url URL"
    )
    output.err("")
    output.err(Styled("Next, in another terminal:", "bold"))
    output.err("  nango-hooks fire --sync NAME   # a signed sync webhook; its records served here")
    output.err("  nango-hooks check              # Nango's whole contract, fetches included")
    output.err(Styled("Ctrl-C to stop", "dim"))
