"""Serving the listener from the CLI (`listen`, `tunnel`): its events printed as they
come, the inspector beside it on request, the running file written, one Ctrl-C."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nango_cli.cli import listen_view, output
from nango_cli.cli.common import directories, open_store
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.app.live_settings import LiveSettings
    from nango_cli.servers.listener.events import ListenSummary
    from nango_cli.servers.listener.server import ListenOptions


def run(
    options: ListenOptions,
    live: LiveSettings,
    json_mode: bool,
    verbose: bool,
    ui: tuple[str, int] | None = None,
    alongside: Callable[[Callable[[object], None]], Awaitable[None]] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> ListenSummary:
    """Serve the listener until it ends or Ctrl-C/SIGTERM, printing each event; with
    `ui`, the inspector beside it; `alongside(report)` runs on the same loop while it
    serves (reporting through the listener's notices); `on_ready(url)` after the
    banner. Returns the listener's summary (the caller says how it ended)."""
    from nango_cli.servers import lifecycle
    from nango_cli.servers.inspector.server import UiOptions, UiServer
    from nango_cli.servers.listener.server import Listener, ListenerNotice, is_loopback

    printer = output.BackgroundPrinter()
    env = live().env

    def on_event(event: object) -> None:
        # Called on the listener's loop: rendered here, written by the printer's thread.
        for stream, text in listen_view.render(event, json_mode, verbose):
            printer.submit(stream, text)

    shown = [live.keys()]

    def keys() -> object:
        # The config file is read again when it changes: a key set after the start
        # verifies the next webhook, and one line says so.
        ring = live.keys()
        if ring != shown[0]:
            shown[0] = ring
            on_event(ListenerNotice("config", listen_view.keys_line(env, ring)))
        return ring

    def ready(urls: list[str]) -> None:
        if ui is not None:
            output.err(Styled(f"Inspector on {urls[0]}", "bold"))
        listen_view.banner(urls[-1], options, env, shown[0])
        if on_ready is not None:
            on_ready(urls[-1])

    if not is_loopback(options.host):
        output.warn(
            f"listening on {options.host}, not loopback: anyone who can reach this machine "
            "can post webhooks to it"
        )
    if ui is not None and not is_loopback(ui[0]):
        output.warn(
            f"the inspector on {ui[0]}, not loopback: anyone who can reach this machine can "
            "read every stored webhook and replay edited ones, signed, to any URL"
        )
    try:
        with open_store() as store:
            units = []
            if ui is not None:
                # The inspector next to the listener, on the same loop and store; on
                # loopback unless --ui-host says otherwise, wherever the listener binds.
                ui_options = UiOptions(ui[0], ui[1], "--ui-port", options.allowed_hosts)
                inspector = UiServer(ui_options, store, live, on_notice=on_event)
                units.append(lifecycle.Unit(inspector, "ui"))
            listener = Listener(options, store, on_event, live, keys)  # type: ignore[arg-type]
            units.append(lifecycle.Unit(listener, "listener"))
            beside = (lambda: alongside(on_event)) if alongside is not None else None
            summary: ListenSummary = lifecycle.serve_until_signalled(
                units, ready, env=env, alongside=beside, state_dir=directories().data
            )
    finally:
        printer.close()
    return summary
