"""`nango-hooks ui`: the local web inspector."""

from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import (
    EnvOption,
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

app = typer.Typer(rich_markup_mode=None)


@app.command("ui")
def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS", help="Address to bind.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int | None, port_option("--port", "ui_port", "Port", short=True)] = None,
    allow_host: AllowHostOption = None,
    max_body: MaxBodyOption = "8MB",
    body_budget: BodyBudgetOption = "64MB",
    max_connections: MaxConnectionsOption = 1000,
    idle_timeout: IdleTimeoutOption = 15.0,
    body_timeout: BodyTimeoutOption = 30.0,
    env: EnvOption = None,
) -> None:
    """Browse, inspect, replay and fire webhooks in a web page.

    A live timeline of every webhook stored (sync runs grouped), the detail of
    each (headers, JSON tree, signature diagnosis, attempts, the API calls the
    handler made), replay, edit-resign-send, a form to fire any kind, and the last
    `check` report. Serves 127.0.0.1 only by default; nothing loads from the
    network. `listen --ui` runs it next to a listener.

    Example: nango-hooks ui --port 0
    """
    from nango_cli.servers import lifecycle
    from nango_cli.servers.inspector.server import UiOptions, UiServer
    from nango_cli.servers.skeleton import is_loopback

    state = use(ctx, env, False)
    live = live_settings(state)
    current = live()
    if not is_loopback(host):
        output.warn(
            f"serving on {host}, not loopback: anyone who can reach this machine can read "
            "every stored webhook and replay edited ones, signed, to any URL"
        )

    def on_notice(notice: "Notice") -> None:
        output.err(Styled(f"{notice.kind}: ", "yellow"), notice.message)

    options = UiOptions(
        host,
        current.ui_port if port is None else port,
        allowed_hosts=tuple(allow_host or ()),
        limits=server_limits(max_body, body_budget, max_connections, idle_timeout, body_timeout),
    )
    with open_store() as store:
        server = UiServer(options, store, live, on_notice)

        def on_ready(urls: list[str]) -> None:
            output.err(Styled(f"Inspector on {urls[0]}", "bold"))
            output.err(f"environment {current.env}; Ctrl-C to stop")

        lifecycle.serve_until_signalled(
            [lifecycle.Unit(server, "ui")], on_ready, env=current.env, state_dir=directories().data
        )
    raise typer.Exit(130)
