"""Running a local server in a thread of this process, on an event loop of its own.

For everything that needs a server next to other work: `nango_cli.testing`'s
`running_listener()` / `running_api()` / `running_inspector()`, the demo, and
`scenario run` (which serves the API stand-in while it fires).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from nango_cli.servers.skeleton import LocalServer

S = TypeVar("S", bound=LocalServer)


class ServerThread(Generic[S]):
    """`with ServerThread(server) as running:` serves until the block ends.

    The server runs with the one lifecycle (`server.run`, lifecycle.py) on the thread's
    loop; its outcome is kept in `.result`, and an exception it raises is raised again
    in the caller, at start (a port in use) or at the end.
    """

    def __init__(self, server: S, start_timeout: float = 20.0) -> None:
        self.server = server
        self.start_timeout = start_timeout
        self.url = ""
        self.result: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name=f"{server.name}", daemon=True)

    def _main(self) -> None:
        from nango_cli.support import eventloop

        async def main() -> None:
            self._loop = asyncio.get_running_loop()

            def on_ready(url: str) -> None:
                self.url = url
                self._ready.set()

            self.result = await self.server.run(on_ready)

        try:
            eventloop.run(main())
        except BaseException as exc:  # raised again in the caller's thread
            self._error = exc
        finally:
            self._ready.set()

    def start(self) -> ServerThread[S]:
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise TimeoutError(f"the {self.server.name} did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, reason: str = "stopped", timeout: float = 30.0) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.server.stop, reason)
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error

    def join(self, timeout: float) -> bool:
        """Wait for the server to stop by itself (a count reached); True when it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def call(self, function: Callable[[], Any]) -> None:
        """Run `function` on the server's loop (thread-safe)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function)

    def run(self, coroutine: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
        """Run `coroutine()` on the server's loop and wait for its result."""
        assert self._loop is not None, "the server is not running"

        async def main() -> Any:
            return await coroutine()

        return asyncio.run_coroutine_threadsafe(main(), self._loop).result(timeout)

    def __enter__(self) -> ServerThread[S]:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
