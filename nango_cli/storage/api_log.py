"""The local API's request log: what a handler asked and what it was answered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from nango_cli.storage.database import Database
from nango_cli.storage.sql import dumps


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

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def record_requests(store: Database, requests: Sequence[ApiRequest]) -> None:
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO api_requests (id, created_at, method, path, query, status, "
            "connection_id, provider_config_key, model, record_count, next_cursor, error_code, "
            "body, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:4], dumps(r.query), *r[5:]) for r in requests],
        )


def api_requests(
    store: Database, since: str | None = None, limit: int | None = 100
) -> list[ApiRequest]:
    """The most recent `limit` requests from `since` on, oldest first."""
    sql = "SELECT * FROM api_requests"
    params: list[Any] = []
    if since:
        sql += " WHERE created_at >= ?"
        params.append(since)
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
        )
        for r in rows
    ]
