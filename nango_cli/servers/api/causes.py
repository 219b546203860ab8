"""The webhooks an API call causes (app/api_effects.py), worked out and handed on in a
worker thread after the answer (Nango sends them once the run is done), and counted,
so a client that got its answer can wait for what its call caused (`scenario run`'s
`call` step)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from nango_cli.app.api_effects import OnCaused


class Causes:
    def __init__(self, on_caused: OnCaused | None, notice: Callable[[str, str], None]) -> None:
        self.on_caused = on_caused
        self.notice = notice
        self.pending = 0
        self._done = threading.Condition()

    def add(self, make: Callable[[], list[Any]]) -> None:
        """Work out the webhooks with `make` and hand them on (nothing when webhooks are
        off). Called on the event loop, before the answer goes."""
        on_caused = self.on_caused
        if on_caused is None:
            return
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                caused = make()
                if caused:
                    on_caused(caused)
            except Exception as exc:  # a bad project must not kill the server
                text = f"the webhooks this call causes: {exc}"
                loop.call_soon_threadsafe(self.notice, "error", text)
            finally:
                with self._done:
                    self.pending -= 1
                    self._done.notify_all()

        with self._done:
            self.pending += 1
        loop.run_in_executor(None, run)

    def wait(self, timeout: float) -> bool:
        """Return once every call answered so far had its webhooks handed on."""
        with self._done:
            return self._done.wait_for(lambda: self.pending == 0, timeout)
