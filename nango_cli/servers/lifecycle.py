"""How every server runs, as a command or inside this process: one lifecycle.

`serve(units)` starts the servers in order; when one cannot bind, none serves (those
already started are closed) and the error says which port. Once all are up, each one's
running file is written (app/running.py: `fire --to-listener` and `check` find them) and
only then is `on_ready` told the addresses, so whoever reads a banner finds the files.
They serve until the last one, the lead, stops (Ctrl-C, a count reached, a timeout);
then they close in reverse order, each letting its in-flight requests finish, and their
running files are removed. `serve_until_signalled` is the same for a command:
Ctrl-C/SIGTERM stops it gracefully, a second one at once. `threaded.ServerThread` runs
it on a thread of this process (the testing helpers, `scenario run`, the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from nango_cli.app.running import Kind
    from nango_cli.servers.skeleton import LocalServer


@dataclass(frozen=True)
class Unit:
    """One server of a group; `announce_as` names its running file (None: none is
    written, as for the servers a test runs in its own process)."""

    server: LocalServer
    announce_as: Kind | None = None
    # The running file's other fields (the API's internal token, for `check`).
    extra: Mapping[str, Any] = field(default_factory=dict)


async def serve(
    units: Sequence[Unit],
    on_ready: Callable[[list[str]], None] | None = None,
    *,
    env: str = "",
    timeout: float | None = None,
    alongside: Callable[[], Awaitable[None]] | None = None,
    state_dir: Path | None = None,
) -> Any:
    """Serve `units` until the lead (the last) stops, or `timeout` (else the lead's
    own) passes; `alongside()` runs on the same loop meanwhile; the running files go in
    `state_dir` (the data directory). Returns the lead's outcome (the API: requests
    served; the listener: its summary)."""
    from nango_cli.app import running

    lead = units[-1].server
    started: list[Unit] = []
    announced: list[Unit] = []
    beside: asyncio.Future[None] | None = None
    try:
        urls = []
        for unit in units:
            urls.append(await unit.server.start())
            started.append(unit)
        if not lead.stop_requested:  # else Ctrl-C came while starting: stop now
            for unit, url in zip(units, urls, strict=True):
                if unit.announce_as is not None:
                    assert state_dir is not None, "a unit announced needs the data directory"
                    running.announce(state_dir, unit.announce_as, url, env, **unit.extra)
                    announced.append(unit)
            if on_ready is not None:
                on_ready(urls)
            if alongside is not None:
                beside = asyncio.ensure_future(alongside())
            await lead.wait_stopped(lead.timeout if timeout is None else timeout)
    finally:
        if beside is not None:
            beside.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await beside
        try:
            for unit in reversed(started):
                await unit.server.close()
        finally:  # also when a second Ctrl-C cut the closing short
            for unit in announced:
                assert unit.announce_as is not None and state_dir is not None
                running.withdraw(state_dir, unit.announce_as)
    return lead.outcome()


def serve_until_signalled(
    units: Sequence[Unit],
    on_ready: Callable[[list[str]], None] | None = None,
    *,
    env: str = "",
    alongside: Callable[[], Awaitable[None]] | None = None,
    state_dir: Path | None = None,
) -> Any:
    """`serve` as a command runs it: until it ends, or Ctrl-C/SIGTERM stops the lead
    (the others with it); a second one ends it at once, as KeyboardInterrupt."""
    from nango_cli.support import eventloop

    lead = units[-1].server
    return eventloop.run_until_signalled(
        lambda: serve(units, on_ready, env=env, alongside=alongside, state_dir=state_dir),
        lambda: lead.stop("interrupted"),
    )
