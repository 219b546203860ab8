"""Listener throughput: wrk posts a signed ~600-byte sync webhook at concurrency 10 and 50.

Reports webhooks/s received, verified and stored, and checks that none is lost
(rows stored == requests answered 2xx). Needs `wrk` (Debian package wrk).

    python benchmarks/listen_throughput.py [--seconds 10] [--connections 10 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nango_cli import payloads, signing  # noqa: E402

KEY = "bench-signing-key-0000000000000000"


def body() -> bytes:
    webhook = payloads.sync_success(
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
    return signing.serialize(webhook)


def run_once(connections: int, seconds: int, home: Path) -> dict[str, object]:
    data = body()
    headers = signing.signature_headers(KEY, data)
    lua = home / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(data.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    )
    env = {**os.environ, "NANGO_HOOKS_HOME": str(home), "NANGO_HOOKS_SIGNING_KEY": KEY}
    err_path = home / f"listen-{connections}.err"
    with err_path.open("wb") as err:
        listener = subprocess.Popen(
            [sys.executable, "-m", "nango_cli", "listen", "--port", "0", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=ROOT,
        )
    while "Listening on" not in err_path.read_text():
        time.sleep(0.05)
    url = err_path.read_text().split("Listening on ")[1].split()[0]
    db = home / "data" / "history.sqlite3"
    before = sqlite3.connect(db).execute("SELECT count(*) FROM webhooks").fetchone()[0]
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
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM webhooks").fetchone()[0] - before
    valid = (
        sqlite3.connect(db)
        .execute("SELECT count(*) FROM webhooks WHERE json_extract(meta, '$.signature') = 'valid'")
        .fetchone()[0]
    )
    return {
        "connections": connections,
        "seconds": seconds,
        "body_bytes": len(data),
        "requests": requests,
        "answered_2xx": ok,
        "stored": stored,
        "stored_valid": valid,
        # wrk stops counting at the deadline, so requests still in flight are stored but
        # not counted: stored may exceed answered_2xx by up to `connections`.
        "lost": max(0, ok - stored),
        "webhooks_per_s": round(ok / seconds),
        "socket_errors": errors.group(1) if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        for connections in args.connections:
            home = Path(tmp) / f"c{connections}"
            home.mkdir()
            print(json.dumps(run_once(connections, args.seconds, home)))


if __name__ == "__main__":
    main()
