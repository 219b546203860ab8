"""Load mode throughput: `fire --count N --concurrency 50` against a fast local receiver,
and wrk against the same receiver with the same body, for the ratio.

The receiver is a bare aiohttp handler in its own process (it stores nothing).
Needs `wrk` (Debian package wrk).

    python benchmarks/load_throughput.py [--count 5000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECEIVER = """
import sys
from aiohttp import web

async def handle(request):
    await request.read()
    return web.Response(text="ok")

app = web.Application()
app.router.add_route("POST", "/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration")
    args = parser.parse_args()
    exe = shutil.which("nango-hooks")
    if exe is None or shutil.which("wrk") is None:
        sys.exit("needs nango-hooks installed (pip install -e .) and wrk (apt-get install wrk)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks"
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "NANGO_HOOKS_HOME": home,
                "NANGO_HOOKS_SIGNING_KEY": "bench-key-00000000000000000000",
            }
            # The same webhook for load mode and, via --dry-run, for wrk's script.
            fire_args = [
                exe,
                "--json",
                "fire",
                "--sync",
                "github-tickets",
                "-i",
                "github",
                "-c",
                "bench-connection",
                "-m",
                "Ticket",
                "--url",
                url,
            ]
            fire = subprocess.run(
                [*fire_args, "--count", str(args.count), "--concurrency", str(args.concurrency)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            load = json.loads(fire.stdout)["load"]
            dry = subprocess.run(
                [*fire_args, "--dry-run"], env=env, capture_output=True, text=True, check=True
            )
            webhook = json.loads(dry.stdout)["webhooks"][0]
            lua = Path(home) / "post.lua"
            lua.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(webhook['body'])}\n"
                + "".join(
                    f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n"
                    for k, v in webhook["headers"].items()
                )
            )
            out = subprocess.run(
                [
                    "wrk",
                    "-t",
                    "1",
                    "-c",
                    str(args.concurrency),
                    "-d",
                    f"{args.seconds}s",
                    "-s",
                    str(lua),
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            wrk_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    finally:
        receiver.terminate()
        receiver.wait(10)
    print(
        json.dumps(
            {
                "count": load["count"],
                "concurrency": load["concurrency"],
                "delivered": load["delivered"],
                "duration_s": load["duration_s"],
                "fire_webhooks_per_s": load["throughput_per_s"],
                "latency_ms": load["latency_ms"],
                "wrk_requests_per_s": round(wrk_rate),
                "ratio_to_wrk": round(load["throughput_per_s"] / wrk_rate, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
