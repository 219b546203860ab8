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
from nango_cli.servers.api import ApiOptions, ApiServer
from nango_cli.servers.inspector.server import UiOptions, UiServer
from nango_cli.servers.listener.events import ListenOptions, ReceivedEvent
from nango_cli.servers.listener.server import Listener
from nango_cli.servers.skeleton import LocalServer, Notice
from nango_cli.servers.threaded import ServerThread
from nango_cli.storage.api_log import ApiRequest, api_requests
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


class RunningApi(_Running[ApiServer]):
    """The API stand-in: `.url`, `.secret_key` (None: any bearer), faults (`.fault()`,
    `.latency()`, `.short_pages()`), and the calls a handler made (`.requests()`)."""

    @property
    def secret_key(self) -> str | None:
        return self.server.secret_key

    @property
    def faults(self) -> Any:
        return self.server.faults

    @property
    def token(self) -> str:
        return self.server.options.internal_token

    def fault(self, status: int = 500, times: int = 1) -> None:
        """The next `times` records requests fail with `status`, as Nango's would."""
        self.server.faults.fail(status, times)

    def latency(self, seconds: float, times: int = 1) -> None:
        """The next `times` records requests are answered `seconds` late."""
        self.server.faults.delay(seconds, times)

    def short_pages(self, on: bool = True) -> None:
        """Pages shorter than `limit` that still carry a `next_cursor` (as Nango's
        response-size budget produces): a handler must page until it is null."""
        self.server.faults.set_short_pages(on)

    def requests(self, path: str | None = None) -> list[ApiRequest]:
        """The requests answered so far (oldest first), optionally only those to `path`
        (`/records` also matches `/records/`)."""
        # The log is written in batches right after the answers: write this batch now.
        self.thread.run(self.server.log.flush)
        found = api_requests(self.store, limit=None)
        if path is None:
            return found
        return [r for r in found if r.path.rstrip("/") == path.rstrip("/")]


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
    `secret_key`, requests must carry it as their bearer; without, any bearer is taken."""
    with _store(store) as opened:
        holder: list[RunningApi] = []
        server = ApiServer(
            ApiOptions(
                host=host,
                port=port,
                secret_key=secret_key,
                env=env,
                on_caused=on_caused,
                settings=settings,
            ),
            opened,
            on_notice=lambda notice: holder[0].notices.append(notice),
        )
        thread = ServerThread(server)
        running = RunningApi(thread, opened)
        holder.append(running)
        with thread:
            yield running


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
