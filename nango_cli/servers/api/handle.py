"""The API stand-in as `scenario run` serves it: in this process, on a thread of its
own, over its own connection to the store (the pytest plugin uses
`nango_cli.testing.running_api`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from nango_cli.app import api_effects
from nango_cli.app.bodies import FireOptions
from nango_cli.app.scenarios.model import Fault
from nango_cli.app.settings import Settings
from nango_cli.servers.api.server import ApiOptions, ApiServer
from nango_cli.servers.skeleton import Notice
from nango_cli.servers.threaded import ServerThread
from nango_cli.storage.webhooks import Store


class LocalApi:
    """`with LocalApi(store_path, port, secret_key) as api:` serves at `api.url`."""

    def __init__(
        self,
        store_path: Path,
        port: int = 0,
        secret_key: str | Callable[[], str | None] | None = None,
        env: str = "dev",
        host: str = "127.0.0.1",
        on_notice: Callable[[Notice], None] | None = None,
        port_flag: str = "--api-port",
        settings: Callable[[], Settings] | None = None,
    ) -> None:
        self.store = Store(store_path)
        # What calls caused (a scenario's `call` step sends them to its handler).
        self._caused: list[FireOptions] = []
        self._lock = threading.Lock()
        self.server = ApiServer(
            ApiOptions(
                host=host,
                port=port,
                secret_key=secret_key,
                env=env,
                settings=settings,
                declared_syncs=api_effects.declared_syncs(settings) if settings else _none,
                on_caused=self._keep if settings else None,
            ),
            self.store,
            on_notice=on_notice,
        )
        self.server.port_flag = port_flag
        self.thread = ServerThread(self.server)
        self.url = ""

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

    def _keep(self, caused: list[FireOptions]) -> None:
        with self._lock:
            self._caused.extend(caused)

    def take_caused(self, timeout: float = 30.0) -> list[FireOptions]:
        """The webhooks the calls answered so far caused, once worked out."""
        self.server.causes.wait(timeout)
        with self._lock:
            taken, self._caused = self._caused, []
        return taken

    def settle(self) -> None:
        """Write the request log's pending batch now, and wait for it."""
        self.thread.run(self.server.log.flush)

    def __enter__(self) -> LocalApi:
        try:
            self.thread.start()
        except BaseException:
            self.store.close()
            raise
        self.url = self.thread.url
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.thread.stop()
        finally:
            self.store.close()


def _none(key: str) -> set[Any]:
    return set()
