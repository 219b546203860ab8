"""`nango-hooks dev`: the three servers a handler is developed against, in one process
with one event loop and one Ctrl-C: the Nango API stand-in (what the handler calls
back), a listener (verifies, stores, and forwards to the handler what comes to it:
real Nango webhooks through a tunnel, `fire --to-listener`), and the inspector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nango_cli.app.api_effects import OnCaused, declared_syncs
from nango_cli.app.live_settings import LiveSettings
from nango_cli.servers.api import ApiOptions, ApiServer
from nango_cli.servers.inspector.server import UiOptions, UiServer
from nango_cli.servers.lifecycle import Unit
from nango_cli.servers.listener.events import ListenOptions
from nango_cli.servers.listener.server import Listener
from nango_cli.storage.webhooks import Store


@dataclass
class DevPorts:
    api: int
    listen: int
    ui: int


@dataclass
class DevUrls:
    api: str
    listener: str
    inspector: str


class DevServers:
    def __init__(
        self,
        live: LiveSettings,
        store: Store,
        ports: DevPorts,
        on_event: Callable[[Any], None],
        on_request: Callable[[Any], None],
        forward: bool = True,
        on_caused: OnCaused | None = None,
        rotate: Callable[[], str | None] | None = None,
        action_results: dict[str, Any] | None = None,
    ) -> None:
        settings = live()
        self.live = live
        handler_url = settings.url if forward else None
        self.listener = Listener(
            ListenOptions(
                port=ports.listen,
                keys=live.keys(),
                forward_to=handler_url,
                forward_timeout=float(settings.timeout),
                env=settings.env,
            ),
            store,
            on_event,
            live,
            live.keys,
        )
        self.api = ApiServer(
            ApiOptions(
                port=ports.api,
                secret_key=lambda: live().secret_key,
                env=settings.env,
                declared_syncs=declared_syncs(live),
                on_caused=on_caused,
                settings=live,
                rotate_signing_key=rotate,
                action_results=action_results or {},
            ),
            store,
            on_request,
            on_event,
        )
        self.inspector = UiServer(UiOptions(port=ports.ui, flag="--ui-port"), store, live, on_event)
        self.forward_to = handler_url

    def units(self) -> list[Unit]:
        """The three in the order they start (the listener last: it leads, so Ctrl-C
        stops it first, and the others after it, in reverse)."""
        token = {"token": self.api.options.internal_token}  # `check` uses it from here
        return [
            Unit(self.api, "api", token),
            Unit(self.inspector, "ui"),
            Unit(self.listener, "listener"),
        ]


def run_forever(servers: DevServers, on_ready: Callable[[DevUrls], None], state_dir: Path) -> None:
    """Serve the three, with the one lifecycle, until Ctrl-C (or SIGTERM); their running
    files in `state_dir`."""
    from nango_cli.servers import lifecycle

    lifecycle.serve_until_signalled(
        servers.units(),
        lambda urls: on_ready(DevUrls(api=urls[0], inspector=urls[1], listener=urls[2])),
        env=servers.live().env,
        state_dir=state_dir,
    )
