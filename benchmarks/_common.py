"""Shared by the benchmark scripts: aggregation, a bare receiver, the environment.

Every figure a script prints is aggregated here: the median of N runs and the
range (min-max), with N printed beside it. Ratios are taken between figures
measured in the same invocation.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_HINT = "wrk is not installed (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)"

# A receiver that reads the body and answers 200, storing nothing: the ceiling.
BARE_RECEIVER = """
import sys
from aiohttp import web

async def handle(request):
    await request.read()
    return web.Response(text="ok")

app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_route("POST", "/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def summary(values: Sequence[float], digits: int = 1) -> dict[str, object]:
    """Median and range of a series of measurements."""
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "runs": len(ordered),
    }


def environment() -> dict[str, str]:
    """The environment for measured commands: as an installed tool runs, with bytecode
    caching on (some machines set PYTHONDONTWRITEBYTECODE, which makes every run
    compile the package from source)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def nango_hooks() -> str:
    exe = shutil.which("nango-hooks")
    if exe is None:
        sys.exit("nango-hooks is not installed in this environment (pip install -e .)")
    return exe


def start_server(
    command: list[str], ready: str, home: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `nango-hooks COMMAND…` (listen, api, ui) with stdout discarded, and wait for
    its `ready` line on stderr; the process and the URL printed after `ready`."""
    err = home / f"{command[0]}.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nango_cli", *command],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            env=env,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 30
    while ready not in err.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"{command[0]} did not start: {err.read_text()}")
        time.sleep(0.05)
    return proc, err.read_text().split(ready + " ")[1].split()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class BareReceiver:
    """The bare aiohttp receiver in a process of its own."""

    def __enter__(self) -> BareReceiver:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks"
        self.proc = subprocess.Popen([sys.executable, "-c", BARE_RECEIVER, str(self.port)])
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
