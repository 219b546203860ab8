"""`listen` killed with SIGKILL under load: is any webhook it answered 2xx lost?

Clients post webhooks, each with its own nonce (its connectionId), to a listener
that is killed with SIGKILL at a random moment --kills times and started again
on the same port and store. At the end, every nonce that got a 2xx answer must
be a row of the store: the listener answers only after the commit. Prints the
webhooks answered and those lost (target: 0 lost). Run it on another checkout
with --pythonpath to compare.

    python benchmarks/listen_sigkill.py [--kills 21] [--connections 10] [--pythonpath DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import ROOT, environment, free_port, wait_for_port


def start(port: int, home: Path, pythonpath: str) -> subprocess.Popen[bytes]:
    env = {**environment(), "NANGO_HOOKS_HOME": str(home), "PYTHONPATH": pythonpath}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nango_cli", "listen", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=home,
    )
    wait_for_port(port)
    return proc


async def clients(url: str, connections: int, stop: threading.Event, answered: set[str]) -> int:
    sent = 0

    async def one(worker: int) -> None:
        nonlocal sent
        async with httpx.AsyncClient(timeout=5) as client:
            n = 0
            while not stop.is_set():
                nonce = f"k{worker}-{n}"
                n += 1
                body = json.dumps({"type": "sync", "connectionId": nonce, "model": "M"})
                sent += 1
                try:
                    reply = await client.post(url, content=body)
                except httpx.HTTPError:
                    await asyncio.sleep(0.01)  # killed: wait for the next listener
                    continue
                if 200 <= reply.status_code < 300:
                    answered.add(nonce)

    await asyncio.gather(*(one(i) for i in range(connections)))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=21)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--pythonpath", default=str(ROOT))
    args = parser.parse_args()
    rng = random.Random(7)
    answered: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = start(port, home, args.pythonpath)
        stop = threading.Event()
        sent: list[int] = []
        load = threading.Thread(
            target=lambda: sent.append(asyncio.run(clients(url, args.connections, stop, answered)))
        )
        load.start()
        for _ in range(args.kills):
            time.sleep(rng.uniform(0.3, 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start(port, home, args.pythonpath)
        time.sleep(0.5)
        stop.set()
        load.join(30)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        db = sqlite3.connect(home / "data" / "history.sqlite3")
        try:
            stored = {r[0] for r in db.execute("SELECT connection_id FROM webhooks")}
        finally:
            db.close()
    lost = sorted(answered - stored)
    print(
        json.dumps(
            {
                "kills": args.kills,
                "connections": args.connections,
                "requests_sent": sent[0] if sent else None,
                "answered_2xx": len(answered),
                "lost": len(lost),
                "lost_examples": lost[:5],
            }
        )
    )


if __name__ == "__main__":
    main()
