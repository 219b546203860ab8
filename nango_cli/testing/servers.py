"""Local servers in this process, for tests (the user's and nango-hooks' own).

Each context manager starts one of nango-hooks' servers on a free loopback port, in a
thread of this process with an event loop of its own, and stops it when the block
ends::

    from nango_cli.testing import running_listener

    with running_listener(signing_key="test-key") as listener:
        my_code_that_posts_webhooks_to(listener.url)
        assert listener.wait_for(1)[0].valid

`store` is the history store to use: a `Store`, a path, or None for a temporary one
(removed afterwards). These are the same servers the CLI runs (`listen`, `api`,
`ui`), with the same limits, Host check and answers.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from nango_cli.app.settings import Settings
from nango_cli.protocol.signatures import KeyRing
from nango_cli.servers.api.handle import RunningApi as RunningApi  # public here
from nango_cli.servers.api.handle import serve_api
from nango_cli.servers.inspector.server import UiOptions, UiServer
from nango_cli.servers.listener.events import ListenOptions, ReceivedEvent
from nango_cli.servers.listener.server import Listener
from nango_cli.servers.skeleton import LocalServer, Notice
from nango_cli.servers.threaded import ServerThread
from nango_cli.storage.webhooks import Store

# Its public names are the package's (nango_cli/testing/__init__.py lists them).

S = TypeVar("S", bound=LocalServer)


class _Running(Generic[S]):
    def __init__(self, thread: ServerThread[S], store: Store) -> None:
        self.thread = thread
        self.server: S = thread.server
        self.store = store
        self.notices: list[Notice] = []

    @property
    def url(self) -> str:
        return self.thread.url


class RunningListener(_Running[Listener]):
    """A listener: `.url`, the webhooks `.received` (oldest first), `.notices`."""

    def __init__(self, thread: ServerThread[Listener], store: Store) -> None:
        super().__init__(thread, store)
        self.received: list[ReceivedEvent] = []
        self._arrived = threading.Condition()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, ReceivedEvent):
            with self._arrived:
                self.received.append(event)
                self._arrived.notify_all()
        elif isinstance(event, Notice):
            self.notices.append(event)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedEvent]:
        """The first `count` webhooks received, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.received)} of {count} webhook(s) arrived in {timeout:g}s"
                    )
                self._arrived.wait(left)
            return list(self.received[:count])


class RunningInspector(_Running[UiServer]):
    """The inspector: `.url` (the page) and `.token` (what the page sends with POSTs)."""

    @property
    def token(self) -> str:
        return self.server.token


@contextlib.contextmanager
def _store(store: Store | Path | str | None) -> Iterator[Store]:
    if isinstance(store, Store):
        yield store
        return
    if store is not None:
        with Store(Path(store)) as opened:
            yield opened
        return
    with (
        tempfile.TemporaryDirectory(prefix="nango-hooks-") as tmp,
        Store(Path(tmp) / "history.sqlite3") as opened,
    ):
        yield opened


@contextlib.contextmanager
def running_listener(
    *,
    signing_key: str | None = None,
    keys: KeyRing | Callable[[], KeyRing] | None = None,
    store: Store | Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    settings: Settings | Callable[[], Settings] | None = None,
    **options: Any,
) -> Iterator[RunningListener]:
    """`listen` in this process. `signing_key` (or a `keys` ring, or a function giving
    one per webhook) verifies what arrives; `options` are ListenOptions fields
    (`status=500`, `reject_invalid=True`, `forward_to=URL`, …)."""
    ring = keys if isinstance(keys, KeyRing) else KeyRing(current=signing_key)
    listen_options = ListenOptions(host=host, port=port, keys=ring, **options)
    with _store(store) as opened:
        holder: list[RunningListener] = []
        listener = Listener(
            listen_options,
            opened,
            lambda event: holder[0]._on_event(event),
            settings,
            keys if callable(keys) else None,
        )
        thread = ServerThread(listener)
        running = RunningListener(thread, opened)
        holder.append(running)
        with thread:
            yield running


@contextlib.contextmanager
def running_api(
    *,
    secret_key: str | None = None,
    store: Store | Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    env: str = "dev",
    on_caused: Callable[[list[Any]], None] | None = None,
    settings: Callable[[], Settings] | None = None,
) -> Iterator[RunningApi]:
    """The API stand-in in this process, serving what `store` holds. With a
    `secret_key`, requests must carry it as their bearer; without, any bearer is taken.
    The same handle `scenario run` uses (servers/api/handle.py)."""
    with (
        _store(store) as opened,
        serve_api(
            opened,
            secret_key=secret_key,
            host=host,
            port=port,
            env=env,
            on_caused=on_caused,
            settings=settings,
        ) as api,
    ):
        yield api


@contextlib.contextmanager
def running_inspector(
    settings: Settings | Callable[[], Settings],
    *,
    store: Store | Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningInspector]:
    """The web inspector in this process, over `store`, acting with `settings` (the
    environment whose key a replay or a fire from the page signs with)."""
    with _store(store) as opened:
        holder: list[RunningInspector] = []
        server = UiServer(
            UiOptions(host, port),
            opened,
            settings,
            on_notice=lambda notice: holder[0].notices.append(notice),
        )
        thread = ServerThread(server)
        running = RunningInspector(thread, opened)
        holder.append(running)
        with thread:
            yield running
