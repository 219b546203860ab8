"""Transport parity: every misbehaving receiver, against every transport.

The same scenario runs through the single-webhook sender (httpx: fire, replay,
check), the load runner (aiohttp: fire --count) and the listener's forward
proxy (httpx, from inside the aiohttp server); each must leave the same
outcome records in the store. Retries are compared between the two senders
that retry; the proxy makes one attempt and is compared with the first. Only
the backoff clock is fake; receivers are real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from nango_cli.app.load import LoadRunner
from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook, execute
from nango_cli.delivery.retry import make_policy
from nango_cli.protocol import signatures, vocabulary
from nango_cli.protocol.headers import merge_headers, wire_headers
from nango_cli.protocol.signatures import KeyRing
from nango_cli.storage.webhooks import Store
from tests.listening import InProcess
from tests.receiver import Behaviour, Receiver, free_port

BODY = b'{"from":"nango","type":"sync"}'
OK = Behaviour(status=200)
DOCS_WAITS = [0.1, 0.2]
SERVER_WAITS = [3.0, 6.0]


@dataclass
class Scenario:
    name: str
    script: list[Behaviour]  # then the default (persistent) behaviour
    default: Behaviour
    # per policy: (attempt count, waits, delivered)
    docs: tuple[int, list[float], bool]
    server: tuple[int, list[float], bool]
    first: str  # what the first attempt is: a status code or an error class
    timeout: float = 5.0
    truncated: bool = False
    redirect_to: str | None = None  # "same" or "other": the script's Location


FIVE_XX = [
    Scenario(
        f"{code} always",
        [],
        Behaviour(status=code),
        (3, DOCS_WAITS, False),
        (3, SERVER_WAITS, False),
        str(code),
    )
    for code in (502, 503, 504)
]
SCENARIOS = [
    Scenario(
        "500 then 200", [Behaviour(status=500)], OK, (2, [0.1], True), (2, [3.0], True), "500"
    ),
    *FIVE_XX,
    Scenario(
        "connection reset, then 200",
        [Behaviour(reset=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "reset",
    ),
    Scenario(
        "accepts and never answers, then 200",
        [Behaviour(delay=3.0)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "timeout",
        timeout=0.5,
    ),
    Scenario(
        "drips the body one byte per 0.2 s, then 200",
        [Behaviour(body=b"x" * 50, delay=0.2, drip=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "timeout",
        timeout=0.6,
    ),
    Scenario(
        "drips the status line one byte per 0.1 s, then 200",
        [Behaviour(delay=0.1, drip_status=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "timeout",
        timeout=0.6,
    ),
    Scenario(
        "streams 100 Continue forever, then 200",
        [Behaviour(continue_forever=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "timeout",
        timeout=0.6,
    ),
    Scenario(
        "answers 320 bytes in 4 chunks, 50 ms apart",
        [],
        Behaviour(chunks=[bytes([65 + i]) * 80 for i in range(4)], delay=0.05),
        (1, [], True),
        (1, [], True),
        "200",
    ),
    Scenario(
        "answers 5,000 bytes",
        [],
        Behaviour(body=bytes(range(256)) * 19 + b"e" * 136),
        (1, [], True),
        (1, [], True),
        "200",
    ),
    Scenario(
        "answers 100 MB",
        [],
        Behaviour(huge=100 * 1024 * 1024),
        (1, [], True),
        (1, [], True),
        "200",
        truncated=True,
    ),
    Scenario(
        "answers exactly the cap",
        [],
        Behaviour(body=b"c" * RESPONSE_BODY_CAP),
        (1, [], True),
        (1, [], True),
        "200",
    ),
    Scenario(
        "closes in the middle of the body, then 200",
        [Behaviour(body=b"y" * 4000, close_mid_body=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        "reset",
    ),
    Scenario(
        "answers garbage, then 200",
        [Behaviour(raw=b"NOT HTTP AT ALL\r\n\r\n")],
        OK,
        (2, [0.1], True),
        (1, [], False),
        "protocol",
    ),
    Scenario("410 Gone", [], Behaviour(status=410), (3, DOCS_WAITS, False), (1, [], False), "410"),
    Scenario(
        "429 with Retry-After: 120 (ignored, as Nango does)",
        [],
        Behaviour(status=429, headers={"Retry-After": "120"}),
        (3, DOCS_WAITS, False),
        (1, [], False),
        "429",
    ),
]


@dataclass
class Clock:
    waits: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def _plan(url: str, policy: str, timeout: float) -> DeliveryPlan:
    headers = merge_headers(wire_headers(), signatures.signature_headers("k", BODY))
    return DeliveryPlan(
        webhooks=[PlannedWebhook(type="sync", body=BODY, headers=headers, targets=[url])],
        policy=make_policy(policy),
        timeout=timeout,
        env="dev",
    )


def send_single(store: Store, url: str, policy: str, timeout: float) -> tuple[str, list[float]]:
    clock = Clock()
    (sent,) = execute(_plan(url, policy, timeout), store, lambda event: None, sleep=clock.sleep)
    return sent.record.id, clock.waits


def send_load(store: Store, url: str, policy: str, timeout: float) -> tuple[str, list[float]]:
    clock = Clock()
    runner = LoadRunner(_plan(url, policy, timeout), store, 1, 1, sleep=clock.asleep)
    asyncio.run(runner.run("k", "both"))
    (webhook_id,) = runner._done
    return webhook_id, clock.waits


def forwarding_listener(store: Store, app_url: str, timeout: float) -> InProcess:
    """The listener in-process, proxying every webhook to `app_url`."""
    return InProcess(
        store, forward_to=app_url, forward_timeout=timeout, keys=KeyRing(current="k"), env="dev"
    )


def stored_attempts(db_path: Path, webhook_id: str) -> list[tuple[Any, ...]]:
    """The outcome records as stored, in the terms the contract fixes."""
    db = sqlite3.connect(db_path)
    rows = db.execute(
        "SELECT number, outcome, status_code, error_class, will_retry, wait_s, "
        "response_truncated, response_body, redirects FROM attempts WHERE webhook_id = ? "
        "ORDER BY number",
        (webhook_id,),
    ).fetchall()
    db.close()
    return [
        (*row[:7], hashlib.sha256(row[7] or b"").hexdigest()[:16], len(row[7] or b""), row[8])
        for row in rows
    ]


def _first_kind(row: tuple[Any, ...]) -> str:
    return str(row[2]) if row[2] is not None else str(row[3])


@pytest.mark.parametrize("policy", ["docs", "server"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_single_and_load_transports_leave_the_same_records(
    tmp_path: Path, scenario: Scenario, policy: str
) -> None:
    expected_attempts, expected_waits, expected_delivered = getattr(scenario, policy)
    records = {}
    for name, send in (("single", send_single), ("load", send_load)):
        db_path = tmp_path / f"{name}.sqlite3"
        with Receiver() as receiver, Store(db_path) as store:
            receiver.default = scenario.default
            receiver.then(*scenario.script)
            webhook_id, waits = send(store, receiver.url, policy, scenario.timeout)
            assert len(receiver.requests) == expected_attempts, name
            assert all(r.body == BODY for r in receiver.requests)  # identical resends
        status = (
            sqlite3.connect(db_path)
            .execute("SELECT status FROM webhooks WHERE id = ?", (webhook_id,))
            .fetchone()[0]
        )
        assert status == ("delivered" if expected_delivered else "failed"), name
        assert waits == expected_waits, name
        records[name] = stored_attempts(db_path, webhook_id)
    assert records["single"] == records["load"]
    rows = records["single"]
    assert len(rows) == expected_attempts
    assert [r[0] for r in rows] == list(range(1, expected_attempts + 1))
    assert _first_kind(rows[0]) == scenario.first
    assert [r[5] for r in rows if r[4]] == expected_waits
    assert bool(rows[-1][6]) is scenario.truncated


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_forward_proxy_leaves_the_same_first_attempt(
    tmp_path: Path, scenario: Scenario
) -> None:
    """`listen --forward-to` makes one attempt per webhook; it must be the one the
    senders make first, and the sender must get the app's whole answer."""
    with Receiver() as app, Store(tmp_path / "single.sqlite3") as store:
        app.default = scenario.default
        app.then(*scenario.script)
        webhook_id, _ = send_single(store, app.url, "none", scenario.timeout)
    single = stored_attempts(tmp_path / "single.sqlite3", webhook_id)
    db_path = tmp_path / "forward.sqlite3"
    with Receiver() as app, Store(db_path) as store:
        app.default = scenario.default
        app.then(*scenario.script)
        with forwarding_listener(store, app.url, scenario.timeout) as proxy:
            headers = merge_headers(wire_headers(), signatures.signature_headers("k", BODY))
            reply = httpx.post(proxy.url, content=BODY, headers=headers, timeout=30)
        (event,) = proxy.events
    forwarded = stored_attempts(db_path, event.id)
    assert forwarded == single
    attempt = event.forward.attempt
    if attempt.status_code is None:
        assert reply.status_code == 502
    elif not attempt.response_truncated:
        # the sender gets the app's status and its whole answer, however it was chunked
        assert reply.status_code == attempt.status_code
        expected = b"".join(scenario.default.chunks) or scenario.default.body
        if not scenario.script:
            assert reply.content == expected


def test_a_100_mb_response_is_read_with_bounded_memory(tmp_path: Path) -> None:
    with Receiver() as receiver, Store(tmp_path / "h.sqlite3") as store:
        receiver.default = Behaviour(huge=100 * 1024 * 1024)
        tracemalloc.start()
        webhook_id, _ = send_single(store, receiver.url, "none", 5.0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    (row,) = stored_attempts(tmp_path / "h.sqlite3", webhook_id)
    assert row[6] == 1 and row[8] == RESPONSE_BODY_CAP
    assert peak < 8 * 1024 * 1024  # read 64 KiB of 100 MB, not the whole of it


@pytest.mark.parametrize("send", [send_single, send_load], ids=["single", "load"])
def test_connection_refused(tmp_path: Path, send: Any) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        webhook_id, waits = send(store, f"http://127.0.0.1:{free_port()}/", "docs", 5.0)
    rows = stored_attempts(tmp_path / "h.sqlite3", webhook_id)
    assert [r[3] for r in rows] == ["refused"] * 3 and waits == DOCS_WAITS


@pytest.mark.parametrize("send", [send_single, send_load], ids=["single", "load"])
@pytest.mark.parametrize(
    ("code", "method"), [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")]
)
def test_redirects_are_followed_as_axios_does(
    tmp_path: Path, send: Any, code: int, method: str
) -> None:
    """301/302/303 continue as GET without a body (and without content-* headers),
    307/308 keep method and body; the hop is recorded."""
    with Receiver() as final, Receiver() as first, Store(tmp_path / "h.sqlite3") as store:
        first.default = Behaviour(status=code, headers={"Location": final.url})
        webhook_id, _ = send(store, first.url, "docs", 5.0)
        (request,) = final.requests
    assert request.method == method
    assert request.body == (BODY if method == "POST" else b"")
    names = {k.lower() for k in request.headers}
    assert ("content-type" in names) is (method == "POST")
    assert vocabulary.HMAC_HEADER.lower() in names  # signatures survive a redirect, as in axios
    (row,) = stored_attempts(tmp_path / "h.sqlite3", webhook_id)
    assert row[2] == 200 and row[9] == f'["{final.url}"]'


@pytest.mark.parametrize("send", [send_single, send_load], ids=["single", "load"])
def test_more_than_five_redirects_is_an_error(tmp_path: Path, send: Any) -> None:
    with Receiver() as loop, Store(tmp_path / "h.sqlite3") as store:
        loop.default = Behaviour(status=302, headers={"Location": "/again"})
        webhook_id, _ = send(store, loop.url, "none", 5.0)
        assert len(loop.requests) == 6  # the request and 5 hops
    (row,) = stored_attempts(tmp_path / "h.sqlite3", webhook_id)
    assert row[3] == "redirects"


@pytest.mark.parametrize("send", [send_single, send_load], ids=["single", "load"])
def test_a_redirect_to_another_host_is_followed_and_reported(tmp_path: Path, send: Any) -> None:
    with Receiver() as final, Receiver() as first, Store(tmp_path / "h.sqlite3") as store:
        other_host = final.url.replace("127.0.0.1", "localhost")
        first.default = Behaviour(status=307, headers={"Location": other_host})
        webhook_id, _ = send(store, first.url, "none", 5.0)
        assert len(final.requests) == 1
    note = (
        sqlite3.connect(tmp_path / "h.sqlite3")
        .execute("SELECT note FROM attempts WHERE webhook_id = ?", (webhook_id,))
        .fetchone()[0]
    )
    assert note == f"redirected to another host (localhost:{final.port})"


def test_the_total_deadline_holds_against_a_dripping_status_line(tmp_path: Path) -> None:
    """fire --timeout 2s against a server dripping its status line one byte every
    0.5 s used to run for 74 s; the attempt now ends at its deadline."""
    with Receiver() as receiver, Store(tmp_path / "h.sqlite3") as store:
        receiver.default = Behaviour(delay=0.5, drip_status=True)
        webhook_id, _ = send_single(store, receiver.url, "none", 2.0)
        time.sleep(1.2)  # let the server find out the client is gone
        dripped = receiver.dripped
    (row,) = stored_attempts(tmp_path / "h.sqlite3", webhook_id)
    assert row[3] == "timeout"
    # 2 s at 0.5 s a byte is 4 or 5 bytes (and one or two more written into a socket the
    # client already closed); a read bounded only per operation would take all ~40.
    assert dripped <= 8
