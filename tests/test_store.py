from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nango_cli.delivery.history_rows import (
    DELIVERED,
    FAILED,
    INTERRUPTED,
    SENDING,
    AttemptRecord,
    WebhookRecord,
)
from nango_cli.errors import NotFoundError
from nango_cli.storage import sql
from nango_cli.storage.webhooks import HistoryFilter, Store
from nango_cli.support.text import escape_surrogates


def _webhook(id_: str, created: str = "2026-11-26T12:00:00.000Z", **kw: object) -> WebhookRecord:
    fields: dict[str, object] = {
        "id": id_,
        "created_at": created,
        "direction": "sent",
        "env": "dev",
        "type": "sync",
        "body": b'{"a":1}',
        "headers": {"x": "y"},
        "status": SENDING,
        "sync_name": "s",
    }
    fields.update(kw)
    return WebhookRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "data" / "h.sqlite3") as s:
        yield s


def test_migrations_are_named_and_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    Store(path).close()
    with Store(path) as again:
        assert again.applied_migrations() == [
            "001_initial",
            "002_redirects_and_negatives",
            "003_api_state",
            "004_generations",
            "005_api_faults",
            "006_connection_state",
            "007_tunnel_leases",
        ]
    from nango_cli.storage.database import CURRENT_SCHEMA
    from nango_cli.storage.migrations import MIGRATIONS

    assert MIGRATIONS[-1][0] == CURRENT_SCHEMA
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_outbox_then_attempts_then_finish(store: Store) -> None:
    store.record_webhook(_webhook("abc123abc123"))
    assert store.get("abc1").status == SENDING
    store.record_attempt(
        "abc123abc123",
        AttemptRecord(
            target="http://t",
            number=1,
            started_at="now",
            outcome="http_error",
            status_code=500,
            latency_ms=3.5,
            response_body=b"z" * 70_000,
            will_retry=True,
            wait_s=0.1,
        ),
    )
    store.finish_webhook("abc123abc123", DELIVERED)
    got = store.get("abc123abc123")
    assert got.status == DELIVERED and got.attempt_count == 1 and got.last_status_code == 500
    assert got.body == b'{"a":1}' and got.headers == {"x": "y"}
    (attempt,) = got.attempts
    assert len(attempt.response_body) == 64 * 1024 and attempt.response_truncated
    assert attempt.will_retry and attempt.wait_s == 0.1


def _answered(status: int, latency: float, number: int = 1) -> AttemptRecord:
    return AttemptRecord(
        target="http://t",
        number=number,
        started_at="now",
        outcome="delivered" if status < 300 else "http_error",
        status_code=status,
        latency_ms=latency,
    )


def test_outcomes_of_a_batch_write_each_webhook_once(store: Store) -> None:
    # Load mode's flush: attempts and finishes of many webhooks in one transaction.
    ids = ["aaaa00000001", "aaaa00000002", "aaaa00000003", "aaaa00000004"]
    store.record_webhooks([_webhook(i) for i in ids])
    store.record_outcomes(
        [
            (ids[0], _answered(503, 1.0)),
            (ids[1], _answered(200, 2.0)),
            (ids[0], _answered(200, 4.0, number=2)),  # a retry, in the same batch
            (ids[2], _answered(500, 8.0)),  # still being retried: not finished
        ],
        [(ids[0], DELIVERED), (ids[1], DELIVERED), (ids[3], FAILED)],
    )
    rows = {i: store.get(i) for i in ids}
    assert [
        (r.status, r.attempt_count, r.last_status_code, r.latency_ms) for r in rows.values()
    ] == [
        (DELIVERED, 2, 200, 4.0),
        (DELIVERED, 1, 200, 2.0),
        (SENDING, 1, 500, 8.0),
        (FAILED, 0, None, None),
    ]
    assert [a.status_code for a in rows[ids[0]].attempts] == [503, 200]
    # the one still sending is still its process's; the others are nobody's
    owners = dict(store._db.execute("SELECT id, owner_pid FROM webhooks").fetchall())
    assert [owners[i] is None for i in ids] == [True, True, False, True]
    # a later batch adds to the counters
    store.record_outcomes([(ids[2], _answered(200, 16.0, number=2))], [(ids[2], DELIVERED)])
    again = store.get(ids[2])
    assert (again.status, again.attempt_count, again.last_status_code) == (DELIVERED, 2, 200)


def test_outcomes_of_a_webhook_deleted_meanwhile_are_dropped(store: Store) -> None:
    store.record_webhooks([_webhook("bbbb00000001"), _webhook("bbbb00000002")])
    store.prune("2030-01-01T00:00:00.000Z")  # both gone, as by `history prune`
    store.record_webhooks([_webhook("bbbb00000003")])
    store.record_outcomes(
        [("bbbb00000001", _answered(200, 1.0)), ("bbbb00000003", _answered(200, 1.0))],
        [("bbbb00000001", DELIVERED), ("bbbb00000003", DELIVERED)],
    )
    kept = store.get("bbbb00000003")
    assert (kept.status, kept.attempt_count) == (DELIVERED, 1)
    ids = [r[0] for r in store._db.execute("SELECT webhook_id FROM attempts").fetchall()]
    assert ids == ["bbbb00000003"]


def test_id_prefixes_like_git(store: Store) -> None:
    store.record_webhooks([_webhook("aaaa11112222"), _webhook("aaab33334444")])
    assert store.resolve_id("aaaa") == "aaaa11112222"
    assert store.resolve_id("AAAB3") == "aaab33334444"
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_id("aaa")
    with pytest.raises(NotFoundError, match="no webhook"):
        store.resolve_id("ffff")
    with pytest.raises(NotFoundError):
        store.resolve_id("not-hex%")


def test_rows_left_sending_by_a_dead_process_become_interrupted(store: Store) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    store.record_webhook(_webhook("dead00000000"))
    store.record_webhook(_webhook("abcd00000000"))
    store._db.execute(
        "UPDATE webhooks SET owner_pid = ? WHERE id = 'dead00000000'", (int(dead.stdout),)
    )
    assert store.mark_interrupted() == 1
    assert store.get("dead").status == INTERRUPTED
    assert store.get("abcd").status == SENDING  # ours, still running


def test_list_filters_newest_first(store: Store) -> None:
    store.record_webhooks(
        [
            _webhook("a00000000001", "2026-11-01T00:00:00.000Z", sync_name="x", status=DELIVERED),
            _webhook("a00000000002", "2026-11-02T00:00:00.000Z", sync_name="y", type="auth"),
            _webhook("a00000000003", "2026-11-03T00:00:00.000Z", sync_name="x", status="failed"),
        ]
    )
    ids = [w.id for w in store.list(HistoryFilter())]
    assert ids == ["a00000000003", "a00000000002", "a00000000001"]
    assert [w.id for w in store.list(HistoryFilter(sync_name="x", limit=1))] == ["a00000000003"]
    assert [w.id for w in store.list(HistoryFilter(type="auth"))] == ["a00000000002"]
    assert [w.id for w in store.list(HistoryFilter(failed=True))] == ["a00000000003"]
    since = HistoryFilter(since="2026-11-02T00:00:00.000Z")
    assert len(store.list(since)) == 2


def test_corrupt_store_is_a_clear_config_error(tmp_path: Path) -> None:
    from nango_cli.errors import ConfigError

    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open the history store"):
        Store(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_an_id_collision_draws_new_ids(store: Store) -> None:
    store.record_webhook(_webhook("aaaaaaaaaaaa"))
    clash = _webhook("aaaaaaaaaaaa")
    store.record_webhooks([clash])
    assert clash.id != "aaaaaaaaaaaa" and store.count() == 2


def test_a_store_from_before_the_fault_column_is_upgraded(tmp_path: Path) -> None:
    """A history written by the previous version (migrations up to 004) gains the API
    log's `fault` column on open, its rows kept."""
    from nango_cli.storage import api_log

    path = tmp_path / "h.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE api_requests DROP COLUMN fault")
    db.execute("DELETE FROM migrations WHERE name = '005_api_faults'")
    db.execute(
        "INSERT INTO api_requests (id, created_at, method, path, status) "
        "VALUES ('r1', '2026-12-01T00:00:00.000Z', 'GET', '/records', 200)"
    )
    db.commit()
    db.close()
    with Store(path) as again:
        assert "005_api_faults" in again.applied_migrations()
        (kept,) = api_log.api_requests(again)
    assert (kept.id, kept.fault) == ("r1", None)


def test_a_store_from_before_the_connection_state_is_upgraded(tmp_path: Path) -> None:
    """A history written before 006 (no webhook_url_override, no sync schedules) gains
    both on open, its connections kept (issue 27)."""
    from nango_cli.storage import connections, syncs

    path = tmp_path / "h.sqlite3"
    with Store(path) as first:
        connections.ensure_connection(first, "c1", "github")
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE connections DROP COLUMN webhook_url_override")
    db.execute("DROP TABLE sync_schedules")
    db.execute("DELETE FROM migrations WHERE name = '006_connection_state'")
    db.commit()
    db.close()
    with Store(path) as again:
        assert "006_connection_state" in again.applied_migrations()
        kept = connections.get_connection(again, "c1", "github")
        assert kept is not None and kept.webhook_url_override is None
        syncs.set_paused(again, ["c1"], "github", ["s"], paused=True)
        assert syncs.paused(again, "c1", "github", "s")


def test_records_are_made_a_batch_at_a_time(tmp_path: Path) -> None:
    """Before: every announced record was built in memory before any was written (a
    million-record webhook ended in MemoryError; 30,000 peaked at 42 MB). Now memory
    follows the batch: the same 30,000 peak under 20 MB, and nothing is lost."""
    import tracemalloc

    from nango_cli.storage import records

    with Store(tmp_path / "h.sqlite3") as store:
        change = records.Change("c", "g", "M", "base", 30_000, 0, 0, "2026-12-01T00:00:00.000Z")
        tracemalloc.start()
        try:
            (applied,) = records.apply_changes(store, [change], {})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        changed = change._replace(added=0, updated=12_000, deleted=11_000)
        (again,) = records.apply_changes(store, [changed], {})
        live = records.live_ids(store, "c", "g", "M")
    assert peak < 20_000_000, peak
    assert len(set(applied.added)) == 30_000
    assert len(set(again.updated)) == 12_000 and len(set(again.deleted)) == 11_000
    assert not set(again.updated) & set(again.deleted)
    assert live == set(applied.added) - set(again.deleted)


def test_a_records_page_is_the_plain_select_in_order_whatever_the_filters(tmp_path: Path) -> None:
    """storage/record_pages.py joins a page in one statement (SQLite concatenates the
    records of an ordered subquery); every page, under every filter, is held here to
    what a plain `SELECT … ORDER BY seq` gives, cursor and all, after updates and
    deletions have moved records to the end of the order."""
    import json

    from nango_cli.storage import connections, record_pages, records

    with Store(tmp_path / "h.sqlite3") as store:
        connections.ensure_connection(store, "c", "g")
        first = records.Change("c", "g", "M", "base", 40, 0, 0, "2026-12-01T00:00:00.000Z")
        (made,) = records.apply_changes(store, [first], {})
        later = first._replace(
            added=5, updated=9, deleted=7, modified_after="2026-12-02T00:00:00.000Z"
        )
        records.apply_changes(store, [later], {})
        records.apply_changes(store, [first._replace(connection_id="other")], {})
        with store.reading() as db:
            rows = db.execute(
                "SELECT record_id, wire, seq, last_action, last_modified_at FROM records "
                "WHERE connection_id = 'c' ORDER BY seq"
            ).fetchall()
        some = [made.added[3], made.added[17], made.added[30]]
        cases = [
            {},
            {"actions": ["UPDATED"]},
            {"actions": ["ADDED", "UPDATED"]},
            {"ids": some},
            {"modified_after": "2026-12-02T00:00:00.000Z"},
        ]
        for case in cases:
            expected = [
                r
                for r in rows
                if r[3] in case.get("actions", [r[3]])
                and r[0] in case.get("ids", [r[0]])
                and r[4] >= case.get("modified_after", "")
            ]
            for limit in (1, 7, len(expected), 1000):
                seen: list[str] = []
                after = 0
                while True:
                    page = record_pages.records_page(
                        store,
                        "c",
                        "g",
                        "M",
                        limit=limit,
                        after_seq=after,
                        check_connection=True,
                        **case,  # type: ignore[arg-type]
                    )
                    body = json.loads(page.body)
                    assert page.connection_known
                    assert page.record_count == len(body["records"]) <= limit
                    seen += [r["id"] for r in body["records"]]
                    assert body["next_cursor"] == page.next_cursor
                    if page.next_cursor is None:
                        break
                    after = record_pages.decode_cursor(page.next_cursor) or 0
                assert seen == [r[0] for r in expected], (case, limit)
                wires = [json.loads(r[1]) for r in expected]
                assert [w["id"] for w in wires] == seen
        gone = record_pages.records_page(store, "nobody", "g", "M", check_connection=True)
        assert (gone.connection_known, gone.record_count, gone.body) == (
            False,
            0,
            b'{"next_cursor":null,"records":[]}',
        )


# Values a JSON column holds: what parse_json reads from a file or a body (text keys,
# any text including lone surrogates, integers past 64 bits), and the fields the fake
# records have. Floats apart: their text may differ (`1e16` for `1e+16`), not value.
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_a_json_column_is_the_text_json_writes(value: object) -> None:
    # byte for byte what the column held before orjson wrote it
    assert sql.dumps(value) == escape_surrogates(sql._COMPACT.encode(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_in_a_json_column_keeps_its_value(number: float) -> None:
    assert json.loads(sql.dumps({"n": number}))["n"] == number


def test_what_json_cannot_hold_is_null_on_both_paths() -> None:
    # NaN and the infinities are null, as JSON.stringify writes them; the same when
    # orjson refuses the value for something else (a lone surrogate, an int key, an
    # integer past 64 bits) and `json` writes it.
    odd = [float("nan"), float("inf"), -float("inf")]
    assert sql.dumps({"a": odd}) == '{"a":[null,null,null]}'
    assert sql.dumps({"a": odd, "s": "\ud800"}) == '{"a":[null,null,null],"s":"\\ud800"}'
    assert sql.dumps({1: odd, "big": 2**70}) == f'{{"1":[null,null,null],"big":{2**70}}}'
    assert sql.dumps(["é", "\x00", True]) == '["é","\\u0000",true]'
