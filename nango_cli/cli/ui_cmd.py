"""`nango-hooks ui`: the local web inspector."""

from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import EnvOption, open_store, settings, use
from nango_cli.cli.output import Styled

app = typer.Typer(rich_markup_mode=None)


@app.command("ui")
def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS", help="Address to bind.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int,
        typer.Option(
            "--port", "-p", metavar="PORT", min=0, max=65535, help="Port (0: any free one)."
        ),
    ] = 3458,
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
    from nango_cli.app import running
    from nango_cli.servers.inspector.server import UiOptions, UiServer
    from nango_cli.servers.listener.server import is_loopback
    from nango_cli.support import eventloop

    state = use(ctx, env, False)
    current = settings(state)
    if not is_loopback(host):
        output.warn(
            f"serving on {host}, not loopback: anyone who can reach this machine can read and "
            "send webhooks through it"
        )
    with open_store() as store:
        server = UiServer(UiOptions(host, port), store, current)

        def on_ready(url: str) -> None:
            output.err(Styled(f"Inspector on {url}", "bold"))
            output.err(f"environment {current.env}; Ctrl-C to stop")
            running.announce("ui", url, current.env)

        try:
            eventloop.run_until_signalled(lambda: server.run(on_ready), server.stop)
        finally:
            running.withdraw("ui")
    raise typer.Exit(130)
