"""The local API's request log: what a handler asked and what it was answered."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from nango_cli.storage.database import Database
from nango_cli.support.text import escape_surrogates


class ApiRequest(NamedTuple):
    id: str
    created_at: str
    method: str
    path: str
    query: dict[str, Any]
    status: int
    connection_id: str | None = None
    provider_config_key: str | None = None
    model: str | None = None
    record_count: int | None = None
    next_cursor: str | None = None
    error_code: str | None = None
    body: str | None = None
    duration_ms: float | None = None
    # The fault the API played on it, as JSON ({"status": 500}, …), or None.
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


_INSERT = (
    "INSERT INTO api_requests (id, created_at, method, path, query, status, connection_id, "
    "provider_config_key, model, record_count, next_cursor, error_code, body, duration_ms, "
    "fault) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(request: ApiRequest) -> tuple[Any, ...]:
    """A request as SQLite can take it, whatever a client sent: lone surrogates (valid
    in a URL's percent-encoding and in JSON, not in UTF-8) are kept as escapes."""
    return tuple(
        escape_surrogates(value) if isinstance(value, str) else value
        for value in (*request[:4], json.dumps(request.query), *request[5:])
    )


def record_requests(store: Database, requests: Sequence[ApiRequest]) -> int:
    """Log requests in one transaction; when that fails, one by one, so a row the store
    cannot take never takes the others with it. Returns how many were stored."""
    rows = [_row(r) for r in requests]
    try:
        with store.transaction() as db:
            db.executemany(_INSERT, rows)
        return len(rows)
    except sqlite3.OperationalError:
        raise  # the store itself cannot take rows (disk full, locked): the caller says so
    except Exception:  # one row it cannot bind (an integer past SQLite's, …)
        stored = 0
        for row in rows:
            try:
                with store.transaction() as db:
                    db.execute(_INSERT, row)
                stored += 1
            except sqlite3.OperationalError:
                raise
            except Exception:
                continue
        return stored


def position(store: Database) -> int:
    """Where the log ends now (a row number): `api_requests(after=…)` reads what was
    logged later."""
    with store.reading() as db:
        row = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM api_requests").fetchone()
    return int(row[0])


def api_requests(
    store: Database, since: str | None = None, limit: int | None = 100, after: int | None = None
) -> list[ApiRequest]:
    """The most recent `limit` requests from `since` on (logged after position `after`,
    when given), oldest first."""
    sql = "SELECT * FROM api_requests"
    clauses: list[str] = []
    params: list[Any] = []
    if since:
        clauses.append("created_at >= ?")
        params.append(since)
    if after is not None:
        clauses.append("rowid > ?")
        params.append(after)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    with store.reading() as db:
        rows = db.execute(sql, params).fetchall()[::-1]
    return [
        ApiRequest(
            r["id"],
            r["created_at"],
            r["method"],
            r["path"],
            json.loads(r["query"]),
            r["status"],
            r["connection_id"],
            r["provider_config_key"],
            r["model"],
            r["record_count"],
            r["next_cursor"],
            r["error_code"],
            r["body"],
            r["duration_ms"],
            r["fault"],
        )
        for r in rows
    ]
