"""Load mode (`fire --count`) against real loopback receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from pathlib import Path

from tests.conftest import KEY, jdata, jpayload
from tests.receiver import Behaviour, Receiver


def test_load_sends_distinct_signed_webhooks_and_records_all(
    cli, configured: Receiver, home: Path
) -> None:
    result = cli(
        "--json",
        "fire",
        "--sync",
        "s",
        "-i",
        "p",
        "-m",
        "A",
        "-m",
        "B",
        "--count",
        "200",
        "--concurrency",
        "20",
    )
    assert result.exit_code == 0, result.stderr
    report = jdata(result.stdout)["load"]
    assert report["delivered"] == 200 and report["failed"] == 0
    assert report["attempts_by_class"] == {"2xx": 200}
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert report["throughput_per_s"] > 0
    bodies = [r.body for r in configured.requests]
    assert len(bodies) == 200 and len(set(bodies)) == 200  # distinct bodies
    for request in configured.requests:
        expected = hmac.new(KEY.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Nango-Hmac-Sha256"] == expected
    assert {json.loads(b)["model"] for b in bodies} == {"A", "B"}
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    assert (
        db.execute("SELECT count(*) FROM webhooks WHERE status = 'delivered'").fetchone()[0] == 200
    )
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 200
    stored = {bytes(r[0]) for r in db.execute("SELECT body FROM webhooks")}
    assert stored == set(bodies)


def test_load_failures_retry_per_policy_and_exit_4(cli, configured: Receiver, home) -> None:
    configured.default = Behaviour(status=503)
    result = cli("fire", "--sync", "s", "--count", "10", "--retries", "1")
    assert result.exit_code == 4
    assert "delivered 0, failed 10; attempts 20: 5xx 20" in result.stdout
    assert "replay --failed" in result.stderr
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    assert db.execute("SELECT count(*) FROM webhooks WHERE status = 'failed'").fetchone()[0] == 10
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 20


def test_load_connection_refused_is_classified(cli, configured: Receiver) -> None:
    from tests.receiver import free_port

    result = cli(
        "--json",
        "fire",
        "--sync",
        "s",
        "--count",
        "5",
        "--retry-policy",
        "none",
        "--url",
        f"http://127.0.0.1:{free_port()}/",
    )
    assert result.exit_code == 4
    assert jpayload(result.stdout)["load"]["attempts_by_class"] == {"refused": 5}


def test_rate_limits_the_send_rate(cli, configured: Receiver) -> None:
    start = time.monotonic()
    assert cli("fire", "--sync", "s", "--count", "21", "--rate", "40/s").exit_code == 0
    assert time.monotonic() - start >= 0.5  # 21 webhooks at 40/s: the last starts at 0.5 s


def test_bad_load_options(cli, configured: Receiver) -> None:
    assert cli("fire", "--sync", "s", "--count", "0").exit_code == 2
    assert cli("fire", "--sync", "s", "--count", "3", "--rate", "fast").exit_code == 2
    assert cli("fire", "--sync", "s", "--count", "3", "--concurrency", "0").exit_code == 2


def test_load_sends_no_cookie_a_receiver_set(cli, configured: Receiver) -> None:
    # Nango's client (axios in Node.js) keeps no cookies: every webhook carries only
    # the contract's headers, whatever an earlier answer set. aiohttp's session kept
    # them in its jar and sent them back on every later webhook of the run.
    configured.default = Behaviour(headers={"Set-Cookie": "session=abc; Path=/"})
    # By name: aiohttp's jar keeps no cookie from a bare IP address.
    url = f"http://localhost:{configured.port}/webhooks"
    result = cli(
        "--json", "fire", "--sync", "s", "--url", url, "--count", "20", "--concurrency", "1"
    )
    assert result.exit_code == 0, result.stderr
    assert len(configured.requests) == 20
    assert [r.headers.get("Cookie") for r in configured.requests] == [None] * 20
