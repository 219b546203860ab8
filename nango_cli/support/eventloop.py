"""The event loop the servers and load mode run on: uvloop when it is installed.

uvloop serves more requests per second of CPU than the standard library's loop
(benchmarks/api_records.py runs both, interleaved, and prints the ratio; README,
Performance, quotes it). It is a dependency on Linux and macOS; elsewhere, or with
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
    """Run a server (listen, api, ui) until it ends or Ctrl-C/SIGTERM calls `stop`."""
    import signal

    async def main() -> T:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        return await serve()

    return run(main())


def run(main: Coroutine[Any, Any, T]) -> T:
    if name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
