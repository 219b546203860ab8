"""Listener throughput: wrk posts a signed ~650-byte sync webhook at 10 and 50 connections.

Reports webhooks/s received, verified and stored (median and range of --runs
runs), and checks that none is lost (requests answered 2xx <= rows stored).
Target (issue 10): >= 4,000/s at 10 connections. Needs wrk (Debian/Ubuntu:
apt-get install wrk); without it, nango-hooks' own load mode generates the
traffic instead (those figures are lower, as the generator shares the cores,
and are not docs/performance.md's).

    python benchmarks/listen_throughput.py [--seconds 10] [--connections 10 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, WRK_HINT, environment, start_server, summary

from nango_cli.protocol import bodies, serialization, signatures

sys.path.insert(0, str(ROOT))


KEY = "bench-signing-key-0000000000000000"


def body() -> bytes:
    webhook = bodies.sync_success(
        connection_id="bench-connection-0123456789",
        provider_config_key="github-enterprise-production",
        sync_name="github-issues-with-comments-and-labels",
        model="GithubIssueWithComments",
        sync_type="INCREMENTAL",
        modified_after="2026-11-26T12:00:00.000Z",
        added=120,
        updated=45,
        deleted=3,
        checkpoints={
            "from": {"cursor": "Y3Vyc29yOnYyOpK5MjAyNi0xMS0yNlQxMjowMDowMFo="},
            "to": {
                "cursor": "Y3Vyc29yOnYyOpK5MjAyNi0xMS0yNlQxMjoxMDowMFo=",
                "page": 17,
                "etag": 'W/"5f3c9a1e4b2d8f7a6c0e"',
            },
        },
    )
    webhook["syncVariant"] = "base-enterprise-customer-variant-for-benchmarking-0001"
    return serialization.serialize(webhook)


def start_listener(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**environment(), "NANGO_HOOKS_HOME": str(home), "NANGO_HOOKS_SIGNING_KEY": KEY}
    return start_server(["listen", "--port", "0", "--json"], "Listening on", home, env)


def stored(home: Path) -> tuple[int, int]:
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    rows = db.execute("SELECT count(*) FROM webhooks").fetchone()[0]
    valid = db.execute(
        "SELECT count(*) FROM webhooks WHERE json_extract(meta, '$.signature') = 'valid'"
    ).fetchone()[0]
    db.close()
    return int(rows), int(valid)


def run_with_load_mode(connections: int, seconds: int, home: Path) -> dict[str, object]:
    """Without wrk: nango-hooks' load mode sends for `seconds` at `connections`."""
    listener, url = start_listener(home)
    count = 3000 * seconds
    env = {
        **environment(),
        "NANGO_HOOKS_HOME": str(home / "sender"),
        "NANGO_HOOKS_SIGNING_KEY": KEY,
    }
    start = time.perf_counter()
    sent = subprocess.run(
        [
            *(sys.executable, "-m", "nango_cli", "--json", "fire", "--sync", "s", "-i", "p"),
            *("-m", "M", "--url", url, "--count", str(count), "--concurrency", str(connections)),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - start
    listener.send_signal(2)
    listener.wait(30)
    load = json.loads(sent.stdout)["data"]["load"]
    rows, valid = stored(home)
    return {
        "connections": connections,
        "generator": "nango-hooks load mode",
        "answered_2xx": load["delivered"],
        "stored": rows,
        "stored_valid": valid,
        "lost": max(0, load["delivered"] - rows),
        "webhooks_per_s": round(load["delivered"] / elapsed),
    }


def run_once(connections: int, seconds: int, home: Path) -> dict[str, object]:
    data = body()
    headers = signatures.signature_headers(KEY, data)
    lua = home / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(data.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    )
    listener, url = start_listener(home)
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listener.send_signal(2)
    listener.wait(30)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    ok = requests - (int(non_2xx.group(1)) if non_2xx else 0)
    rows, valid = stored(home)
    return {
        "connections": connections,
        "seconds": seconds,
        "body_bytes": len(data),
        "requests": requests,
        "generator": "wrk",
        "answered_2xx": ok,
        "stored": rows,
        "stored_valid": valid,
        # wrk stops counting at the deadline, so requests still in flight are stored but
        # not counted: stored may exceed answered_2xx by up to `connections`.
        "lost": max(0, ok - rows),
        "webhooks_per_s": round(ok / seconds),
        "socket_errors": errors.group(1) if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    measure = run_once
    if not shutil.which("wrk"):
        print(f"note: {WRK_HINT}; using nango-hooks' load mode as the generator", file=sys.stderr)
        measure = run_with_load_mode
    loops = ("uvloop", "asyncio")  # interleaved run by run: their ratio is from one session
    with tempfile.TemporaryDirectory() as tmp:
        for connections in args.connections:
            runs: dict[str, list[dict[str, object]]] = {loop: [] for loop in loops}
            for run in range(args.runs):
                for loop in loops:
                    os.environ["NANGO_HOOKS_EVENT_LOOP"] = loop
                    home = Path(tmp) / f"c{connections}-{run}-{loop}"
                    home.mkdir()
                    runs[loop].append(measure(connections, args.seconds, home))
            medians = {}
            for loop in loops:
                rates = [float(r["webhooks_per_s"]) for r in runs[loop]]  # type: ignore[arg-type]
                medians[loop] = statistics.median(rates)
                print(
                    json.dumps(
                        {
                            "connections": connections,
                            "event_loop": loop,
                            "generator": runs[loop][0]["generator"],
                            "webhooks_per_s": summary(rates, 0),
                            "lost": [r["lost"] for r in runs[loop]],
                        }
                    )
                )
            ratio = round(medians["uvloop"] / medians["asyncio"], 2)
            print(json.dumps({"connections": connections, "uvloop_over_asyncio": ratio}))


if __name__ == "__main__":
    main()
