"""`nango-hooks tunnel`: real Nango webhooks for one connection, through a public URL,
into the listener and on to the handler; the connection's webhook URL put back after."""

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from nango_cli.cli import listen_view, output, serve_listener
from nango_cli.cli.common import (
    EnvOption,
    StreamJsonOption,
    checked_url,
    directories,
    live_settings,
    open_store,
    use,
)
from nango_cli.cli.output import Styled
from nango_cli.cli.server_options import (
    AllowHostOption,
    port_option,
)

if TYPE_CHECKING:
    from nango_cli.app.settings import Settings
    from nango_cli.app.tunnel import NangoApi, Restored
    from nango_cli.storage.leases import Lease

app = typer.Typer(rich_markup_mode=None)
RECOVER = "Recovering"


@app.command("tunnel")
def tunnel(
    ctx: typer.Context,
    connection: Annotated[
        str | None,
        typer.Option("--connection", "-c", metavar="ID", help="The connection to receive for."),
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration",
            "-i",
            metavar="KEY",
            help="Its integration (providerConfigKey). [default: the provider_config_key setting]",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="The public URL of your tunnel (ngrok, cloudflared) that reaches --port; "
            "Nango sends the connection's webhooks there meanwhile.",
        ),
    ] = None,
    port: Annotated[
        int | None, port_option("--port", "listen_port", "Port the listener serves on", short=True)
    ] = None,
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to",
            metavar="URL",
            help="Your handler; its answer goes back to Nango. [default: the environment's url]",
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask before changing a production connection."),
    ] = False,
    allow_private_url: Annotated[
        bool,
        typer.Option(
            "--allow-private-url",
            help="Take a loopback or private --public-url (a self-hosted Nango that allows "
            "it, or a local stand-in).",
        ),
    ] = False,
    watch: Annotated[
        float,
        typer.Option(
            "--watch",
            metavar="SECONDS",
            min=0.05,
            help="How often the connection's webhook URL is read back while running.",
        ),
    ] = 10.0,
    ui: Annotated[
        bool,
        typer.Option("--ui", help="Also serve the web inspector (`nango-hooks ui`)."),
    ] = False,
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help="Put back every webhook URL a tunnel of this installation left set (after a "
            "crash), then exit.",
            rich_help_panel=RECOVER,
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Find the environment's connections whose webhook URL a tunnel of this "
            "installation set and no tunnel holds, and clear them (asks; --yes in scripts).",
            rich_help_panel=RECOVER,
        ),
    ] = False,
    allow_host: AllowHostOption = None,
    env: EnvOption = None,
    json_output: StreamJsonOption = False,
) -> None:
    """Receive one connection's real Nango webhooks here, then put its URL back.

    Points the connection's webhook_url_override (in the Nango at the nango_host
    setting, with the environment's secret_key) at --public-url, serves the listener
    on --port, and forwards each webhook to your handler; the handler's answer goes
    back to Nango. On exit, Ctrl-C or SIGTERM the previous value is put back, unless
    someone changed it meanwhile. After a crash: --restore. docs/tunnel.md.

    Examples:

      ngrok http 3456   # in another terminal: https://abc.ngrok.app

      nango-hooks tunnel -c user-42 -i github --public-url https://abc.ngrok.app

      nango-hooks tunnel --restore
    """
    from nango_cli.app import tunnel as core
    from nango_cli.errors import UsageError

    state = use(ctx, env, json_output, stream=True)
    live = live_settings(state)
    current = live()
    if restore or prune:
        if restore and prune:
            raise UsageError(
                "--restore and --prune are separate steps", hint="run one, then the other"
            )
        with open_store() as store:
            if restore:
                _report(core.restore_all(store, _api_for(state), _pid_alive), state.json)
            else:
                _prune(store, _api(current), integration, yes, state.json)
        return
    if not connection or not public_url:
        raise UsageError(
            "tunnel needs --connection and --public-url",
            hint="e.g. nango-hooks tunnel -c user-42 -i github --public-url https://abc.ngrok.app",
        )
    key = integration or current.provider_config_key
    if not key:
        raise UsageError("tunnel needs the connection's --integration")
    public = checked_url(public_url, "--public-url")
    core.check_public_url(public, allow_private_url)
    handler = checked_url(forward_to, "--forward-to") if forward_to else current.url
    if not handler:
        raise UsageError(
            "tunnel forwards to your handler, and there is none",
            hint="pass --forward-to URL, or set the environment's url (config set-url)",
        )
    _confirm_production(current, connection, yes)
    api = _api(current)
    with open_store() as store:
        leftovers = core.restore_all(store, _api_for(state), _pid_alive)
        _report(leftovers, state.json, leftover=True)
        lease = core.open_tunnel(store, api, current.env, connection, key, public)
    try:
        _serve(state, live, lease, api, handler, port, watch, ui, allow_host)
    finally:
        with open_store() as store:
            _report([core.close_tunnel(store, api, lease)], state.json)


def _serve(
    state: Any,
    live: Any,
    lease: "Lease",
    api: "NangoApi",
    handler: str,
    port: int | None,
    watch: float,
    ui: bool,
    allow_host: list[str] | None,
) -> None:
    import asyncio

    from nango_cli.app import tunnel as core
    from nango_cli.errors import NangoHooksError
    from nango_cli.servers.listener.server import ListenerNotice, ListenOptions

    current = live()
    options = ListenOptions(
        host=current.listen_host,
        port=current.listen_port if port is None else port,
        keys=live.keys(),
        forward_to=handler,
        forward_timeout=float(current.timeout),
        env=current.env,
        connection_id=None,
        # Requests come through the public URL, named by its host (ngrok's, say).
        allowed_hosts=(*_public_hosts(lease.value_set), *(allow_host or ())),
    )

    async def watching(report: Any) -> None:
        said: str | None = None
        while True:
            await asyncio.sleep(watch)
            try:
                now = await asyncio.to_thread(core.changed, api, lease)
            except NangoHooksError as exc:
                now, text = said, f"cannot read the connection's webhook URL: {exc.message}"
                report(ListenerNotice("tunnel", text))
                continue
            if now is not None and now != said:
                text = (
                    f"the connection's webhook_url_override is now {now or 'unset'}, not this "
                    "tunnel's: Nango no longer sends its webhooks here (a re-auth through a "
                    "connect session clears it; a teammate may have changed it). On exit it "
                    "is left as it is."
                )
                report(ListenerNotice("tunnel", text))
            said = now

    def ready(url: str) -> None:
        _banner(current, lease, url, handler)
        if state.json:
            data = {
                "listener": url,
                "connection_id": lease.connection_id,
                "integration": lease.integration,
                "nango_host": lease.host,
                "webhook_url_override": lease.value_set,
                "previous": lease.previous,
                "forward_to": handler,
            }
            output.out(output.ndjson_line({"ok": True, "event": "tunnel", "data": data})[:-1])

    inspector = ("127.0.0.1", current.ui_port) if ui else None
    summary = serve_listener.run(
        options, live, state.json, False, inspector, alongside=watching, on_ready=ready
    )
    listen_view.finish(summary, options)


def _public_hosts(url: str) -> tuple[str, ...]:
    """The Host values requests through the public URL carry (with its port, if any)."""
    parts = urlsplit(url)
    return tuple(h for h in {parts.hostname or "", parts.netloc.rpartition("@")[2]} if h)


def _banner(current: "Settings", lease: "Lease", url: str, handler: str) -> None:
    output.err(
        Styled(f"Tunnel: connection {lease.connection_id} ({lease.integration})", "bold"),
        f" in {current.env} ({lease.host}) now sends its webhooks to {lease.value_set}",
    )
    output.err(f"forwarding each to {handler}; its answer goes back to Nango")
    output.err(
        Styled(
            "limits: only what the environment's webhook settings send arrives; the "
            "environment's own webhook URL gets nothing for this connection meanwhile; the "
            f"public URL must reach {url}",
            "dim",
        )
    )
    output.err(Styled("Ctrl-C to stop and put the previous webhook URL back", "dim"))


def _api(current: "Settings") -> "NangoApi":
    from nango_cli.app.tunnel import NangoApi
    from nango_cli.errors import ConfigError

    if not current.secret_key:
        raise ConfigError(
            f"tunnel calls Nango with environment {current.env!r}'s secret key, and it has none",
            hint="set it: `nango-hooks config set-key --secret` (Nango: Environment Settings)",
        )
    return NangoApi(current.nango_host, current.secret_key)


def _api_for(state: Any) -> Any:
    """The Nango API of a lease's environment (its secret key from the config now)."""
    from nango_cli.app import settings as settings_module
    from nango_cli.app.tunnel import NangoApi

    config = directories(state).config_file

    def api_for(lease: "Lease") -> NangoApi:
        found = settings_module.load(config, lease.env)
        return NangoApi(lease.host, _api(found).secret_key)

    return api_for


def _pid_alive(pid: int) -> bool:
    from nango_cli.support.processes import pid_alive

    return pid_alive(pid)


def _confirm_production(current: "Settings", connection: str, yes: bool) -> None:
    from nango_cli.cli.environment import invocation
    from nango_cli.errors import UsageError

    if yes or not current.env.lower().startswith("prod"):
        return
    question = (
        f"environment {current.env!r} looks like production: point connection "
        f"{connection!r}'s webhooks at this machine?"
    )
    if not invocation().stdin_isatty():
        raise UsageError(
            f"{question} Not without --yes (standard input is not a terminal)",
            hint="pass --yes when a script means it",
        )
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def _report(done: list["Restored"], json_mode: bool, leftover: bool = False) -> None:
    for item in done:
        if json_mode:
            event = "leftover" if leftover else "restore"
            document = {
                "ok": item.outcome != "failed",
                "event": event,
                "data": {
                    "connection_id": item.lease.connection_id,
                    "integration": item.lease.integration,
                    "outcome": item.outcome,
                    "previous": item.lease.previous,
                    "current": item.current,
                    "error": item.error,
                },
            }
            output.out(output.ndjson_line(document).rstrip("\n"))
            continue
        prefix = "a tunnel that did not stop cleanly left this: " if leftover else ""
        text = prefix + item.describe()
        if item.outcome == "restored":
            output.err(text)
        else:
            output.warn(text)


def _prune(
    store: Any, api: "NangoApi", integration: str | None, yes: bool, json_mode: bool
) -> None:
    from nango_cli.app import tunnel as core
    from nango_cli.cli.environment import invocation
    from nango_cli.errors import UsageError

    found = core.tagged_overrides(store, api, integration)
    for connection_id, key, url in found:
        if not yes:
            if not invocation().stdin_isatty():
                raise UsageError(
                    f"connection {connection_id} ({key}) still sends to {url}; not cleared "
                    "without --yes (standard input is not a terminal)",
                    hint="pass --yes to clear every one found",
                )
            if not typer.confirm(f"clear connection {connection_id} ({key}): {url}?", err=True):
                continue
        api.set_override(connection_id, key, None)
        if json_mode:
            document = {
                "ok": True,
                "event": "pruned",
                "data": {"connection_id": connection_id, "integration": key, "was": url},
            }
            output.out(output.ndjson_line(document).rstrip("\n"))
        else:
            output.err(
                f"connection {connection_id} ({key}): webhook_url_override cleared (was {url})"
            )
    if not found and not json_mode:
        output.err("no webhook URL set by a tunnel of this installation was found")
