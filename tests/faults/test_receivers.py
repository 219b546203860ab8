"""Fault-tolerance: misbehaving receivers, under both retry policies.

Each scenario runs through the real engine (`fire.execute`: outbox, delivery,
store) against a real loopback receiver; only the backoff clock is fake. For
every scenario: the attempts, the waits between them and the final outcome are
as specified, and every attempt is in the store.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest

from nango_cli import signing
from nango_cli.delivery import base_headers, make_policy
from nango_cli.fire import FirePlan, PlannedWebhook, execute
from nango_cli.store import Store
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
    timeout: float = 5.0


SCENARIOS = [
    Scenario("500 then 200", [Behaviour(status=500)], OK, (2, [0.1], True), (2, [3.0], True)),
    *[
        Scenario(
            f"{code} always",
            [],
            Behaviour(status=code),
            (3, DOCS_WAITS, False),
            (3, SERVER_WAITS, False),
        )
        for code in (502, 503, 504)
    ],
    Scenario(
        "connection reset, then 200",
        [Behaviour(reset=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
    ),
    Scenario(
        "accepts and never answers, then 200",
        [Behaviour(delay=3.0)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        timeout=0.5,
    ),
    Scenario(
        "drips one byte per 0.2 s, then 200",
        [Behaviour(body=b"x" * 50, delay=0.2, drip=True)],
        OK,
        (2, [0.1], True),
        (2, [3.0], True),
        timeout=0.6,
    ),
    Scenario("410 Gone", [], Behaviour(status=410), (3, DOCS_WAITS, False), (1, [], False)),
    Scenario(
        "429 with Retry-After: 120 (ignored, as Nango does)",
        [],
        Behaviour(status=429, headers={"Retry-After": "120"}),
        (3, DOCS_WAITS, False),
        (1, [], False),
    ),
]


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def _fire(store: Store, url: str, policy: str, timeout: float = 5.0):
    headers = {**base_headers(), **signing.signature_headers("k", BODY)}
    plan = FirePlan(
        webhooks=[PlannedWebhook(type="sync", body=BODY, headers=headers)],
        targets=[url],
        policy=make_policy(policy),
        timeout=timeout,
        env="dev",
    )
    clock = Clock()
    (sent,) = execute(plan, store, lambda event: None, sleep=clock.sleep)
    return sent, clock


def _stored(path: Path, webhook_id: str) -> tuple[str, int, list[tuple]]:
    db = sqlite3.connect(path)
    status, count = db.execute(
        "SELECT status, attempt_count FROM webhooks WHERE id = ?", (webhook_id,)
    ).fetchone()
    attempts = db.execute(
        "SELECT number, status_code, error_class, will_retry, wait_s FROM attempts "
        "WHERE webhook_id = ? ORDER BY number",
        (webhook_id,),
    ).fetchall()
    return status, count, attempts


@pytest.mark.parametrize("policy", ["docs", "server"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_receiver_faults(tmp_path: Path, scenario: Scenario, policy: str) -> None:
    expected_attempts, expected_waits, expected_delivered = getattr(scenario, policy)
    db_path = tmp_path / "h.sqlite3"
    with Receiver() as receiver, Store(db_path) as store:
        receiver.default = scenario.default
        receiver.then(*scenario.script)
        sent, clock = _fire(store, receiver.url, policy, scenario.timeout)
        attempts = sent.result.targets[0].attempts
        assert len(attempts) == expected_attempts
        assert clock.waits == expected_waits
        assert sent.delivered is expected_delivered
        assert len(receiver.requests) == expected_attempts
        assert all(r.body == BODY for r in receiver.requests)  # retries resend identical bytes
    status, count, rows = _stored(db_path, sent.record.id)
    assert status == ("delivered" if expected_delivered else "failed")
    assert count == len(rows) == expected_attempts
    assert [r[0] for r in rows] == list(range(1, expected_attempts + 1))
    assert [r[4] for r in rows if r[3]] == expected_waits


@pytest.mark.parametrize(("policy", "attempts"), [("docs", 3), ("server", 3)])
def test_connection_refused(tmp_path: Path, policy: str, attempts: int) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        sent, _ = _fire(store, f"http://127.0.0.1:{free_port()}/", policy)
    rows = _stored(tmp_path / "h.sqlite3", sent.record.id)[2]
    assert len(rows) == attempts and {r[2] for r in rows} == {"refused"}
    assert not sent.delivered


@pytest.mark.parametrize("policy", ["docs", "server"])
@pytest.mark.parametrize(("code", "method"), [(301, "GET"), (308, "POST")])
def test_redirects_are_followed(tmp_path: Path, policy: str, code: int, method: str) -> None:
    """Followed, up to 5 hops: 301/302/303 continue as GET (as axios, which Nango uses,
    and browsers do), 307/308 keep the method and body."""
    with Receiver() as final, Receiver() as first, Store(tmp_path / "h.sqlite3") as store:
        first.default = Behaviour(status=code, headers={"Location": final.url})
        sent, _ = _fire(store, first.url, policy)
        assert sent.delivered and len(sent.result.targets[0].attempts) == 1
        (request,) = final.requests
        assert request.method == method
        assert request.body == (BODY if method == "POST" else b"")


@pytest.mark.parametrize("policy", ["docs", "server"])
def test_a_100_mb_response_is_capped_and_memory_stays_bounded(tmp_path: Path, policy: str) -> None:
    with Receiver() as receiver, Store(tmp_path / "h.sqlite3") as store:
        receiver.default = Behaviour(huge=100 * 1024 * 1024)
        tracemalloc.start()
        sent, _ = _fire(store, receiver.url, policy)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    (attempt,) = sent.result.targets[0].attempts
    assert sent.delivered and attempt.response_truncated
    assert len(attempt.response_body) == 64 * 1024
    assert peak < 8 * 1024 * 1024  # read 64 KiB of 100 MB, not the whole of it
    db = sqlite3.connect(tmp_path / "h.sqlite3")
    stored = db.execute("SELECT length(response_body), response_truncated FROM attempts").fetchone()
    assert stored == (64 * 1024, 1)
