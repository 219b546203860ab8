"""The attacks of issue 11, replayed against a server process: what each one costs.

For each scenario it prints what a developer would notice: sockets the server
still holds, how long a real request waits, the server's peak memory, lines
written to stderr, tracebacks, and webhooks lost (answered 2xx but not stored,
or never answered). `--server api` or `--server ui` runs the attacks that apply to
every server (idle, memory, malformed) against the API stand-in or the inspector.
Run it on another checkout with --pythonpath to compare (e.g. `git worktree add
../before HEAD~3`, then `--pythonpath ../before`).

    python benchmarks/attacks.py [--pythonpath DIR] [--server listen|api|ui]
                                 [--only idle,poison,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import ROOT, environment, free_port, wait_for_port

SERVER = "listen"  # --server: which command the attacks start


class Listener:
    """The server under attack (`listen`, or `api`/`ui` with --server)."""

    def __init__(self, home: Path, pythonpath: str, args: list[str], fd_limit: int | None = None):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.err = home / "listen.err"
        env = {**environment(), "NANGO_HOOKS_HOME": str(home), "PYTHONPATH": pythonpath}

        def limit() -> None:
            if fd_limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

        with self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nango_cli", SERVER, "--port", str(self.port), *args],
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                cwd="/tmp",
                preexec_fn=limit,
            )
        wait_for_port(self.port)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def stop(self) -> dict[str, object]:
        self.proc.send_signal(2)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        text = self.err.read_text(errors="replace")
        return {
            "stderr_lines": len(text.splitlines()),
            "stderr_bytes": len(text),
            "tracebacks": text.count("Traceback"),
        }

    def stored(self) -> set[str]:
        db = sqlite3.connect(self.home / "data" / "history.sqlite3")
        try:
            return {r[0] for r in db.execute("SELECT connection_id FROM webhooks") if r[0]}
        finally:
            db.close()


def probe(url: str, timeout: float = 10.0) -> dict[str, object]:
    """A real request's answer and wait: a webhook for `listen`, the page for `ui`, an
    (unauthenticated, so 401) API call for `api`."""
    start = time.perf_counter()
    try:
        if SERVER == "listen":
            status: object = httpx.post(url, content=b"{}", timeout=timeout).status_code
        else:
            status = httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return {"probe_status": status, "probe_ms": round((time.perf_counter() - start) * 1000)}


def idle(home: Path, pythonpath: str) -> dict[str, object]:
    """1,100 idle sockets against a listener whose descriptor limit is 1,024."""
    lst = Listener(home, pythonpath, [], fd_limit=1024)
    sockets = []
    for _ in range(1100):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", lst.port), timeout=2))
        except OSError:
            break
    result: dict[str, object] = {"sockets_opened": len(sockets)}
    result.update(probe(lst.url))
    time.sleep(20)
    held = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            sock.recv(64)  # an answer, or the end: the listener let go of it
        except BlockingIOError:
            held += 1  # nothing yet: still held open
        except OSError:
            pass
        sock.close()
    result["still_held_after_20s"] = held
    return {**result, **lst.stop()}


def poison(home: Path, pythonpath: str) -> dict[str, object]:
    """140 valid webhooks from other senders, sent at once with 4 lone-surrogate bodies."""
    lst = Listener(home, pythonpath, [])
    poisoned = [
        b'{"type":"sync","syncName":"\\ud800x","connectionId":"p1"}',
        b'{"type":"sync","model":"\\udfff","connectionId":"p2"}',
        b'{"type":"sync","connectionId":"\\ud83d"}',
        b'{"type":"sync","providerConfigKey":"\\udc00","connectionId":"p4"}',
    ]

    async def send() -> dict[str, int | str]:
        async with httpx.AsyncClient(timeout=10) as client:

            async def one(tag: str, body: bytes) -> tuple[str, int | str]:
                try:
                    return tag, (await client.post(lst.url, content=body)).status_code
                except httpx.HTTPError as exc:
                    return tag, type(exc).__name__

            valid = [(f"v{i}", json.dumps({"type": "sync", "connectionId": f"v{i}"}).encode())
                     for i in range(140)]  # fmt: skip
            jobs = [one(t, b) for t, b in valid] + [one(f"p{i}", b) for i, b in enumerate(poisoned)]
            return dict(await asyncio.gather(*jobs))

    answers = asyncio.run(send())
    stopped = lst.stop()
    stored = lst.stored()
    valid = [f"v{i}" for i in range(140)]
    return {
        "valid_not_2xx": sum(1 for v in valid if answers[v] != 200),
        "valid_lost": sum(1 for v in valid if answers[v] == 200 and v not in stored)
        + sum(1 for v in valid if not isinstance(answers[v], int)),
        **stopped,
    }


def memory(home: Path, pythonpath: str) -> dict[str, object]:
    """250 connections, each announcing 5 MB and sending 5 MB minus one byte."""
    lst = Listener(home, pythonpath, [])
    before = lst.peak_rss_mb()
    chunk = b"x" * (5 * 1024 * 1024 - 1)
    answers: list[bytes] = []

    def attack() -> None:
        try:
            with socket.create_connection(("127.0.0.1", lst.port), timeout=30) as sock:
                # Its own Host: a wrong one is refused (421) before any body is read.
                host = f"127.0.0.1:{lst.port}".encode()
                sock.sendall(
                    b"POST / HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 5242880\r\n\r\n"
                )
                sock.sendall(chunk)
                sock.settimeout(40)
                answers.append(sock.recv(12))
        except OSError:
            answers.append(b"closed")

    threads = [threading.Thread(target=attack) for _ in range(250)]
    for thread in threads:
        thread.start()
    time.sleep(5)
    result: dict[str, object] = {"rss_before_mb": before, "peak_rss_mb": lst.peak_rss_mb()}
    result.update(probe(lst.url))
    for thread in threads:
        thread.join(60)
    result["answers"] = sorted({a.decode(errors="replace") for a in answers})
    return {**result, **lst.stop()}


def slow_reader(home: Path, pythonpath: str) -> dict[str, object]:
    """`listen --json` with a stdout nobody reads: 300 webhooks with 2 KB of padding."""
    lst = Listener(home, pythonpath, ["--json"])
    answered = 0
    start = time.perf_counter()
    with httpx.Client(timeout=5) as client:
        for i in range(300):
            body = json.dumps({"type": "sync", "connectionId": f"s{i}", "pad": "p" * 2000})
            try:
                answered += client.post(lst.url, content=body).status_code == 200
            except httpx.HTTPError:
                break
    elapsed = round(time.perf_counter() - start, 1)
    return {"answered_of_300": answered, "seconds": elapsed, **lst.stop()}


def closed_stdout(home: Path, pythonpath: str) -> dict[str, object]:
    """`listen | head -n 1`: stdout closed after the first line, then 20 webhooks."""
    lst = Listener(home, pythonpath, [])
    statuses = []
    with httpx.Client(timeout=5) as client:
        client.post(lst.url, content=b"{}")
        assert lst.proc.stdout is not None
        lst.proc.stdout.readline()
        lst.proc.stdout.close()
        for i in range(20):
            statuses.append(
                client.post(lst.url, content=json.dumps({"connectionId": i})).status_code
            )
    return {"statuses_after_close": sorted(set(statuses)), **lst.stop()}


def malformed(home: Path, pythonpath: str) -> dict[str, object]:
    """50 malformed requests."""
    lst = Listener(home, pythonpath, [])
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nBad Header\r\n\r\n")
            sock.recv(64)
    return {**probe(lst.url), **lst.stop()}


# What applies to every server; the rest is about a listener's webhooks and output.
EVERY_SERVER = ("idle", "memory", "malformed")

SCENARIOS = {
    "idle": idle,
    "poison": poison,
    "memory": memory,
    "slow-reader": slow_reader,
    "closed-stdout": closed_stdout,
    "malformed": malformed,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pythonpath", default=str(ROOT))
    parser.add_argument("--server", choices=("listen", "api", "ui"), default="listen")
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    global SERVER
    SERVER = args.server
    names = args.only.split(",") if args.only else list(SCENARIOS)
    if SERVER != "listen":
        names = [name for name in names if name in EVERY_SERVER]
    for name in names:
        with tempfile.TemporaryDirectory() as home:
            found = SCENARIOS[name](Path(home), args.pythonpath)
            print(json.dumps({"server": SERVER, "scenario": name, **found}))
            sys.stdout.flush()


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
