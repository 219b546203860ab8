"""`nango-hooks demo`: the whole job in one command, on built-in defaults.

A listener starts on a free loopback port in this process, a signed sync webhook
(two models) is fired at it with the default retry policy, and the listener
verifies and stores what arrives. Everything lives in a temporary directory with
a throwaway key: the user's config and history are not touched.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from nango_cli.app.config_file import ConfigFile
from nango_cli.app.fire import FireOptions, fire
from nango_cli.app.settings import resolve
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.errors import NangoHooksError
from nango_cli.protocol.signatures import KeyRing
from nango_cli.storage.webhooks import Store

SYNC = "github-issues"
INTEGRATION = "github"
MODELS = ("GithubIssue", "GithubComment")
CONNECTION = "demo-connection"


class DemoResult(NamedTuple):
    url: str
    sent: list[SentWebhook]
    received: list[Any]  # the listener's ReceivedEvents


def run(on_sent: Callable[[Any], None], on_received: Callable[[Any], None]) -> DemoResult:
    from nango_cli.servers.listener.server import Listener, ListenOptions, ReceivedEvent
    from nango_cli.servers.threaded import ServerThread

    key = "demo-" + secrets.token_hex(16)
    received: list[Any] = []

    def on_event(event: Any) -> None:
        if isinstance(event, ReceivedEvent):
            received.append(event)
            on_received(event)

    with tempfile.TemporaryDirectory(prefix="nango-hooks-demo-") as tmp:
        store = Store(Path(tmp) / "history.sqlite3")
        options = ListenOptions(port=0, keys=KeyRing(key), count=len(MODELS), timeout=10)
        try:
            with ServerThread(Listener(options, store, on_event)) as listening:
                settings = resolve(
                    ConfigFile(path=Path(tmp) / "config.toml"),
                    flags={"signing_key": key},
                    environ={},
                )
                opts = FireOptions(
                    kind="sync",
                    sync_name=SYNC,
                    integration=INTEGRATION,
                    models=list(MODELS),
                    connection_id=CONNECTION,
                    added={None: 3, "GithubComment": 2},
                    updated={None: 1},
                    urls=[listening.url],
                )
                sent = fire(opts, settings, store, on_sent).sent
                # The listener stops by itself after its two webhooks (or 10 s).
                listening.join(15)
        finally:
            store.close()
    if len(received) != len(MODELS):
        raise NangoHooksError(
            f"the listener received {len(received)} of {len(MODELS)} webhooks",
            hint="something on this machine blocks loopback connections",
        )
    return DemoResult(listening.url, sent, received)
