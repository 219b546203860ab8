"""The API stand-in under client mistakes and hostile clients, served in-process
(nango_cli.testing.running_api). Each case was a "500 nango-hooks api failed" (or a
lost log row, or a stored secret) before the server skeleton; each is checked beside a
request the same server answered correctly."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nango_cli.storage import records
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp
from nango_cli.testing import RunningApi, running_api

SECRET = "sk-live-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {SECRET}"}
CONNECTION = {"Connection-Id": "c1", "Provider-Config-Key": "github"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningApi]:
    store = Store(tmp_path / "h.sqlite3")
    change = records.Change("c1", "github", "Issue", "base", 3, 0, 0, now_timestamp())
    records.apply_changes(store, [change], {})
    with running_api(secret_key=SECRET, store=store) as running:
        yield running
    store.close()


def _control(api: RunningApi) -> None:
    """A correct request, answered: the server is not refusing everything."""
    page = httpx.get(
        f"{api.url}/records", params={"model": "Issue"}, headers={**AUTH, **CONNECTION}
    )
    assert page.status_code == 200 and len(page.json()["records"]) == 3


RECORDS = "/records"
MALFORMED = [
    ("GET", RECORDS, {"model": "Issue", "limit": "²"}, {}, None, "invalid_query_params"),
    ("GET", RECORDS, {"model": "Issue", "limit": "9" * 5000}, {}, None, "invalid_query_params"),
    (
        "GET",
        RECORDS,
        {"model": "Issue", "modified_after": "2026-13-01T00:00:00Z"},
        {},
        None,
        "invalid_query_params",
    ),
    (
        "GET",
        RECORDS,
        {"model": "Issue", "modified_after": f"{now_timestamp()}\n"},
        {},
        None,
        "invalid_query_params",
    ),
    (
        "GET",
        RECORDS,
        {"model": "Issue", "modified_after": "9999-12-31T23:59:59-23:59"},
        {},
        None,
        "invalid_query_params",
    ),
    (
        "GET",
        RECORDS,
        {"model": "Issue", "delta": "2026-02-30T00:00:00Z"},
        {},
        None,
        "invalid_query_params",
    ),
    (
        "GET",
        "/sync/records",
        {"model": "Issue", "offset": "9" * 20},
        {},
        None,
        "invalid_query_params",
    ),
    ("GET", "/connections", {"page": "9" * 20}, {}, None, "invalid_query_params"),
    ("GET", "/connections", {"limit": "²"}, {}, None, "invalid_query_params"),
    (
        "POST",
        "/sync/trigger",
        {},
        {},
        {"syncs": ["s"], "provider_config_key": "github", "connection_id": {"a": 1}},
        "invalid_body",
    ),
    (
        "POST",
        "/sync/trigger",
        {},
        {},
        '{"syncs":["s"],"provider_config_key":"github","connection_id":"\\ud800"}',
        "invalid_body",
    ),
    (
        "PATCH",
        "/records/prune",
        {},
        {},
        {"model": "Issue", "until_cursor": "x", "limit": 10**30},
        "invalid_body",
    ),
    ("GET", RECORDS, {"model": "Issue", "ids": "\x00"}, {}, None, "invalid_query_params"),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "body", "code"),
    MALFORMED,
    ids=[
        "limit-superscript",
        "limit-5000-digits",
        "month-13",
        "trailing-newline",
        "year-9999-negative-offset",
        "february-30",
        "offset-20-digits",
        "connections-page-20-digits",
        "connections-limit-superscript",
        "trigger-object-connection",
        "trigger-lone-surrogate",
        "prune-limit-10e30",
        "ids-control-character",
    ],
)
def test_client_mistakes_are_nangos_400(
    api: RunningApi,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: object,
    code: str,
) -> None:
    content = (
        body.encode() if isinstance(body, str) else json.dumps(body).encode() if body else None
    )
    reply = httpx.request(
        method,
        api.url + path,
        params=query,
        headers={**AUTH, **CONNECTION, **headers, "Content-Type": "application/json"},
        content=content,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == code
    _control(api)
    assert not [n for n in api.notices if n.kind == "error"]  # no fault of the server's


def test_a_raw_byte_in_a_connection_header_is_400(api: RunningApi) -> None:
    port = api.server.bound_port
    raw = (
        f"GET /records?model=Issue HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {SECRET}\r\nProvider-Config-Key: github\r\n"
    ).encode() + b"Connection-Id: c\xff1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.settimeout(5)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
    assert b"invalid_headers" in reply
    _control(api)


def test_an_undecodable_cursor_is_answered_as_nango_answers_it(api: RunningApi) -> None:
    """Nango's server answers a cursor its records store cannot decode with 500
    server_error "Failed to fetch records" (not a 400): the stand-in does the same, so
    a handler meets what it would meet. Forged ones (non-ASCII digits, 30 digits) too,
    without a fault of the stand-in's."""
    import base64

    forged = [
        "garbage",
        base64.urlsafe_b64encode("nango-hooks:²".encode()).decode(),
        base64.urlsafe_b64encode(b"nango-hooks:" + b"9" * 30).decode(),
    ]
    for cursor in forged:
        reply = httpx.get(
            f"{api.url}/records",
            params={"model": "Issue", "cursor": cursor},
            headers={**AUTH, **CONNECTION},
        )
        assert reply.status_code == 500
        assert reply.json() == {
            "error": {"code": "server_error", "message": "Failed to fetch records"}
        }
    _control(api)
    assert not [n for n in api.notices if n.kind == "error"]


def test_one_unstorable_request_never_loses_the_others(api: RunningApi) -> None:
    """Before: 10 requests with a lone surrogate in a /sync/trigger body failed their
    log batch: 196 of 200 good requests vanished from `history requests`."""
    poisoned = '{"syncs":["s"],"provider_config_key":"github","connection_id":"\\udfff"}'

    def good(i: int) -> None:
        httpx.get(
            f"{api.url}/records",
            params={"model": "Issue", "limit": str(i % 50 + 1)},
            headers={**AUTH, **CONNECTION},
        )

    def bad() -> None:
        httpx.post(f"{api.url}/sync/trigger", content=poisoned, headers=AUTH)

    threads = [threading.Thread(target=good, args=(i,)) for i in range(200)]
    threads += [threading.Thread(target=bad) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    logged = api.requests()
    assert len([r for r in logged if r.path == "/records"]) == 200
    assert len([r for r in logged if r.path == "/sync/trigger"]) == 10
    limits = sorted(int(r.query["limit"][0]) for r in logged if r.path == "/records")
    assert limits == sorted(i % 50 + 1 for i in range(200))


@pytest.mark.parametrize("name", ["api_key", "token", "secret", "access_token", "apiKey"])
def test_a_secret_in_the_query_string_is_never_stored(api: RunningApi, name: str) -> None:
    """Before: `?api_key=…` was refused 401, but printed and stored verbatim."""
    reply = httpx.get(f"{api.url}/records", params={"model": "Issue", name: SECRET})
    assert reply.status_code == 401
    unknown = httpx.get(
        f"{api.url}/records",
        params={"model": "Issue", "other": f"x{SECRET}y"},
        headers={**AUTH, **CONNECTION},
    )
    assert unknown.status_code == 400  # an unrecognized parameter, its value still a secret
    logged = api.requests()
    text = json.dumps([r.to_dict() for r in logged])
    assert SECRET not in text
    assert logged[0].query[name] == ["…redacted"]
    assert logged[1].query["other"] == ["x…redactedy"]
    with api.store.reading() as db:
        rows = db.execute("SELECT query FROM api_requests").fetchall()
    assert rows and all(SECRET not in row[0] for row in rows)
    _control(api)


def _internal(api: RunningApi, path: str, body: object = None, token: str | None = None):
    headers = {"X-Nango-Hooks-Token": api.token if token is None else token}
    if body is None:
        return httpx.get(f"{api.url}/_nango-hooks/{path}", headers=headers)
    return httpx.post(f"{api.url}/_nango-hooks/{path}", json=body, headers=headers, timeout=60)


def test_internal_endpoints_need_the_processs_token_not_any_bearer(api: RunningApi) -> None:
    """Before: POST /_nango-hooks/changes took any bearer, wrote records for anyone."""
    change = {
        "connection_id": "c1",
        "provider_config_key": "github",
        "model": "Issue",
        "modified_after": now_timestamp(),
        "added": 2,
    }
    refused = httpx.post(f"{api.url}/_nango-hooks/changes", json=change, headers=AUTH)
    assert refused.status_code == 401
    assert _internal(api, "changes", change, token="guess").status_code == 401
    seeded = _internal(api, "changes", change)
    assert seeded.status_code == 200 and len(seeded.json()["added"]) == 2
    too_many = _internal(api, "changes", {**change, "added": 300_000})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "invalid_body"
    # Internal calls are the tool's own: not in the API's log (nor printed).
    assert not [r for r in api.requests() if r.path.startswith("/_nango-hooks")]


def test_a_refused_fault_request_changes_no_fault(api: RunningApi) -> None:
    """POST /_nango-hooks/faults is validated whole before any part applies: before, a
    `clear` beside an invalid `status` cleared the faults set and then answered 400."""
    set_fault = _internal(api, "faults", {"status": 503, "times": 2})
    assert set_fault.status_code == 200 and set_fault.json()["status"] == 503
    for bad in ({"clear": True, "status": 200}, {"clear": True, "latency": None}):
        refused = _internal(api, "faults", bad)
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["code"] == "invalid_body"
    headers = {**AUTH, **CONNECTION}
    statuses = [
        httpx.get(f"{api.url}/records", params={"model": "Issue"}, headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]  # the fault set first still played, twice
    cleared = _internal(api, "faults", {"clear": True, "short_pages": True})
    assert cleared.status_code == 200
    assert cleared.json() == {
        "status": None,
        "times": 0,
        "latency": 0.0,
        "latency_times": 0,
        "short_pages": True,
    }


def test_seeding_records_never_holds_up_other_clients(api: RunningApi) -> None:
    """Before: one request for 300,000 records held the server 10.9 s; other clients
    waited 9.9 s. Now a request is bounded (10,000) and written off the event loop."""
    change = {
        "connection_id": "c1",
        "provider_config_key": "github",
        "model": "Bulk",
        "modified_after": now_timestamp(),
        "added": 10_000,
    }
    done = threading.Event()

    def seed() -> None:
        assert _internal(api, "changes", change).status_code == 200
        done.set()

    thread = threading.Thread(target=seed)
    thread.start()
    time.sleep(0.05)
    waits = []
    while not done.is_set() and len(waits) < 200:
        started = time.monotonic()
        _control(api)
        waits.append(time.monotonic() - started)
    thread.join(60)
    assert done.is_set()
    assert len(waits) >= 2, "the seeding was over before anyone else asked"
    assert max(waits) < 0.5, waits
    assert len(api.requests("/records")) >= len(waits)
