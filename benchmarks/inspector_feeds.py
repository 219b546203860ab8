"""`dev` with many inspector pages open: do the API and the listener stay responsive?

A store holding --stored webhooks; `nango-hooks dev` over it; --feeds live feeds open
(the inspector's /api/events, as that many browser tabs hold); then `history prune`
removes part of the history (every feed is told to reset) while a client probes the
API (GET /records) and the listener (a signed webhook) every 20 ms for --seconds.
Prints the probes' median and worst latency. Target (issue 32): every probe answered
in under 100 ms (before the inspector read the store on the shared event loop: 2-30 s).

    python benchmarks/inspector_feeds.py [--stored 20000] [--feeds 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import ROOT, environment, free_port, summary, wait_for_port

sys.path.insert(0, str(ROOT))

from nango_cli.delivery.history_rows import WebhookRecord
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import format_timestamp

KEY = "bench-signing-key-0123456789abcdef"


def fill(path: Path, count: int) -> None:
    """`count` stored webhooks, the older half more than an hour old (what the prune
    removes)."""
    now = datetime.now(UTC)
    with Store(path) as store:
        rows = []
        for i in range(count):
            when = now - timedelta(hours=2 if i < count // 2 else 0, seconds=count - i)
            body = json.dumps({"type": "sync", "connectionId": f"c{i}", "model": "M"}).encode()
            rows.append(
                WebhookRecord(
                    id=f"bench{i:08d}",
                    created_at=format_timestamp(when),
                    direction="sent",
                    env="dev",
                    type="sync",
                    body=body,
                    headers={},
                    status="delivered",
                    connection_id=f"c{i}",
                    provider_config_key="g",
                    sync_name="s",
                    model="M",
                )
            )
        store.record_webhooks(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**environment(), "NANGO_HOOKS_HOME": home, "NANGO_HOOKS_SIGNING_KEY": KEY}
        (Path(home) / "data").mkdir(mode=0o700)
        fill(Path(home) / "data" / "history.sqlite3", args.stored)
        ports = [free_port() for _ in range(3)]
        command = [sys.executable, "-m", "nango_cli", "dev", "--no-forward"]
        command += ["--api-port", str(ports[0]), "--listen-port", str(ports[1])]
        command += ["--ui-port", str(ports[2])]
        dev = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for port in ports:
                wait_for_port(port)
            api, listener, ui = (f"http://127.0.0.1:{p}" for p in ports)
            stop = threading.Event()

            def feed() -> None:
                try:
                    with httpx.stream("GET", f"{ui}/api/events", timeout=None) as events:
                        for _ in events.iter_lines():
                            if stop.is_set():
                                return
                except httpx.HTTPError:
                    return

            threads = [threading.Thread(target=feed, daemon=True) for _ in range(args.feeds)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            subprocess.Popen(
                [sys.executable, "-m", "nango_cli", "history", "prune", "--older-than", "1h"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            body = b'{"from":"nango","type":"sync","connectionId":"probe"}'
            signature = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
            api_ms: list[float] = []
            listen_ms: list[float] = []
            headers = {
                "Authorization": "Bearer any",
                "Connection-Id": "c",
                "Provider-Config-Key": "g",
            }
            with httpx.Client(timeout=60) as client:
                until = time.monotonic() + args.seconds
                while time.monotonic() < until:
                    started = time.perf_counter()
                    client.get(f"{api}/records", params={"model": "M"}, headers=headers)
                    api_ms.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    client.post(
                        f"{listener}/", content=body, headers={"X-Nango-Hmac-Sha256": signature}
                    )
                    listen_ms.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.02)
            stop.set()
        finally:
            dev.terminate()
            dev.wait(15)
    print(
        json.dumps(
            {
                "stored": args.stored,
                "feeds": args.feeds,
                "api_probe_ms": summary(api_ms, 1),
                "listener_probe_ms": summary(listen_ms, 1),
                "target_max_ms": 100,
            }
        )
    )


if __name__ == "__main__":
    main()
