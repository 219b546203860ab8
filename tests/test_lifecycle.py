"""The one server lifecycle (nango_cli/servers/lifecycle.py), on real aiohttp servers
over real sockets: the order things happen in is what `dev`, `listen --ui`, `api`, `ui`
and the in-process helpers all rely on."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from aiohttp import web

from nango_cli.app import running
from nango_cli.errors import NangoHooksError
from nango_cli.servers import lifecycle
from nango_cli.servers.skeleton import LocalServer
from nango_cli.servers.threaded import ServerThread
from nango_cli.support.paths import Directories


class Recorded(LocalServer):
    """A server that says hello and writes what happens to it in a shared journal."""

    def __init__(self, name: str, journal: list[str], port: int = 0) -> None:
        super().__init__(port=port)
        self.name = name
        self.journal = journal

    def routes(self, app: web.Application) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.Response(text=self.name)

        app.router.add_get("/", hello)

    async def started(self) -> None:
        self.journal.append(f"started {self.name}")

    async def closing(self) -> None:
        self.journal.append(f"closed {self.name}")

    def outcome(self) -> Any:
        return f"{self.name} served"


def test_started_in_order_announced_before_ready_closed_in_reverse(
    directories: Directories,
) -> None:
    journal: list[str] = []
    inspector, listener = Recorded("inspector", journal), Recorded("listener", journal)
    seen: dict[str, Any] = {}

    def on_ready(urls: list[str]) -> None:
        journal.append("ready")
        # Whoever reads the banner finds the running files already written.
        seen["files"] = (running.running(state, "ui"), running.running(state, "listener"))
        seen["urls"] = urls

    async def meanwhile() -> None:
        # Both answer while the group serves; the lead's stop ends them all.
        get = [asyncio.to_thread(httpx.get, url, timeout=5) for url in seen["urls"]]
        seen["answers"] = [response.text for response in await asyncio.gather(*get)]
        listener.stop("interrupted")

    units = [lifecycle.Unit(inspector, "ui"), lifecycle.Unit(listener, "listener")]
    state = directories.data
    outcome = asyncio.run(
        lifecycle.serve(units, on_ready, env="staging", alongside=meanwhile, state_dir=state)
    )

    assert journal == [
        "started inspector",
        "started listener",
        "ready",
        "closed listener",
        "closed inspector",
    ]
    ui_file, listener_file = seen["files"]
    assert (ui_file["url"], ui_file["env"]) == (seen["urls"][0], "staging")
    assert listener_file["url"] == seen["urls"][1]
    assert seen["answers"] == ["inspector", "listener"]
    assert outcome == "listener served"  # the lead's
    # Stopped: the running files are gone with them.
    assert running.running(state, "ui") is None and running.running(state, "listener") is None


def test_when_one_cannot_bind_none_serves_and_nothing_is_announced(
    directories: Directories,
) -> None:
    journal: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        units = [
            lifecycle.Unit(Recorded("api", journal), "api"),
            lifecycle.Unit(Recorded("listener", journal, port=port), "listener"),
        ]
        with pytest.raises(NangoHooksError, match=f"port {port} is already in use"):
            ready = lambda urls: journal.append("ready")  # noqa: E731
            asyncio.run(lifecycle.serve(units, ready, state_dir=directories.data))
    # The API had bound: it is closed again, and nobody was told anything was up.
    assert journal == ["started api", "closed api"]
    assert running.running(directories.data, "api") is None


def test_a_stop_during_start_up_serves_nothing(directories: Directories) -> None:
    """Ctrl-C while the servers are starting: they close as soon as they are up,
    unannounced, without `on_ready`."""
    journal: list[str] = []
    listener = Recorded("listener", journal)
    listener.stop("interrupted")
    units = [lifecycle.Unit(Recorded("api", journal), "api"), lifecycle.Unit(listener, "listener")]
    ready = lambda urls: journal.append("ready")  # noqa: E731
    asyncio.run(lifecycle.serve(units, ready, state_dir=directories.data))
    assert journal == ["started api", "started listener", "closed listener", "closed api"]
    assert running.running(directories.data, "api") is None


def test_alongside_runs_while_serving_and_is_cancelled_at_the_stop() -> None:
    journal: list[str] = []
    lead = Recorded("listener", journal)

    async def beside() -> None:
        journal.append("beside started")
        lead.stop("count")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            journal.append("beside cancelled")
            raise

    asyncio.run(lifecycle.serve([lifecycle.Unit(lead)], alongside=beside))
    assert journal == ["started listener", "beside started", "beside cancelled", "closed listener"]


def test_in_process_servers_run_the_same_lifecycle_unannounced(directories: Directories) -> None:
    journal: list[str] = []
    with ServerThread(Recorded("api", journal)) as thread:
        assert httpx.get(thread.url, timeout=5).text == "api"
        # A test's server is not this machine's: no running file.
        assert not directories.data.exists() or not list(directories.data.glob("*.json"))
    assert journal == ["started api", "closed api"]
    assert thread.result == "api served"
