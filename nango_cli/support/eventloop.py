"""The event loop the servers and load mode run on: uvloop when it is installed.

uvloop serves more requests per second of CPU than the standard library's loop
(benchmarks/api_records.py runs both, interleaved, and prints the ratio; docs/performance.md
quotes it). It is a dependency on Linux and macOS; elsewhere, or with
NANGO_HOOKS_EVENT_LOOP=asyncio, the standard library's loop runs instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV_VAR = "NANGO_HOOKS_EVENT_LOOP"


def name() -> str:
    """ "uvloop" or "asyncio": the loop `run` will use."""
    if os.environ.get(ENV_VAR, "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_until_signalled(serve: Callable[[], Awaitable[T]], stop: Callable[[], None]) -> T:
    """Run a server (listen, api, ui) until it ends or Ctrl-C/SIGTERM calls `stop`; a
    second Ctrl-C/SIGTERM cancels it (requests still held end at once), which ends
    as KeyboardInterrupt (exit 130)."""
    import signal

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                stop()
            elif task is not None:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            return await serve()
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None

    return run(main())


def run(main: Coroutine[Any, Any, T]) -> T:
    if name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
