"""The API stand-in served in this process, on a thread of its own: the one handle
`scenario run`, `check` and `nango_cli.testing.running_api` (the pytest fixture's
API) use."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from nango_cli.app import api_effects
from nango_cli.app.bodies import FireOptions
from nango_cli.app.scenarios.model import Fault
from nango_cli.app.settings import Settings
from nango_cli.servers.api.server import ApiOptions, ApiServer
from nango_cli.servers.skeleton import Notice
from nango_cli.servers.threaded import ServerThread
from nango_cli.storage.api_log import ApiRequest, api_requests
from nango_cli.storage.webhooks import Store


class RunningApi:
    """The API stand-in: `.url`, `.secret_key` (None: any bearer), faults (`.fault()`,
    `.latency()`, `.short_pages()`), the calls a handler made (`.requests()`), and the
    webhooks those calls caused (`.take_caused()`)."""

    def __init__(self, thread: ServerThread[ApiServer], store: Store) -> None:
        self.thread = thread
        self.server = thread.server
        self.store = store
        self.notices: list[Notice] = []
        self._caused: list[FireOptions] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.thread.url

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
        self.settle()
        found = api_requests(self.store, limit=None)
        if path is None:
            return found
        return [r for r in found if r.path.rstrip("/") == path.rstrip("/")]

    # ------------------------------------------------------------ for the runner

    @property
    def can_fault(self) -> bool:
        return True

    def apply_fault(self, fault: Fault) -> None:
        self.server.faults.apply(
            clear=fault.clear,
            status=fault.status,
            latency=fault.latency,
            short_pages=fault.short_pages,
            times=fault.times,
        )

    def settle(self) -> None:
        """Write the request log's pending batch now (it is written in batches right
        after the answers), and wait for it."""
        self.thread.run(self.server.log.flush)

    def keep_caused(self, caused: list[FireOptions]) -> None:
        with self._lock:
            self._caused.extend(caused)

    def take_caused(self, timeout: float = 30.0) -> list[FireOptions]:
        """The webhooks the calls answered so far caused, once worked out."""
        self.server.causes.wait(timeout)
        with self._lock:
            taken, self._caused = self._caused, []
        return taken


@contextlib.contextmanager
def serve_api(
    store: Store,
    *,
    secret_key: str | Callable[[], str | None] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    env: str = "dev",
    settings: Callable[[], Settings] | None = None,
    on_caused: Callable[[list[Any]], None] | None = None,
    on_notice: Callable[[Notice], None] | None = None,
    port_flag: str = "--port",
) -> Iterator[RunningApi]:
    """Serve the API over `store` until the block ends. With `settings`, what the calls
    cause is worked out (the syncs' models) and kept for `take_caused`; `on_caused`
    hears it too."""
    holder: list[RunningApi] = []

    def caused(found: list[Any]) -> None:
        holder[0].keep_caused(found)
        if on_caused is not None:
            on_caused(found)

    def noticed(notice: Notice) -> None:
        holder[0].notices.append(notice)
        if on_notice is not None:
            on_notice(notice)

    server = ApiServer(
        ApiOptions(
            host=host,
            port=port,
            secret_key=secret_key,
            env=env,
            settings=settings,
            declared_syncs=api_effects.declared_syncs(settings) if settings else _none,
            on_caused=caused if settings is not None or on_caused is not None else None,
        ),
        store,
        on_notice=noticed,
    )
    server.port_flag = port_flag
    thread = ServerThread(server)
    holder.append(RunningApi(thread, store))
    with thread:
        yield holder[0]


def _none(key: str) -> set[Any]:
    return set()
