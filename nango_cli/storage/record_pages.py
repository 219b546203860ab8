"""Reading records as Nango's API returns them: pages in modification order with a
cursor (GET /records), the older offset form (GET /sync/records), and plain lists
for `records list` and `records show`.

Each record is stored with its `wire` JSON (the record with `_nango_metadata`, made
when the record is written), so a page is one indexed query and one join.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from nango_cli.storage import connections
from nango_cli.storage.database import Database
from nango_cli.storage.sql import where_equal

MAX_LIMIT = 10_000  # Nango's maximum for GET /records


DEFAULT_LIMIT = 100


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"nango-hooks:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The position a cursor names, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    # ASCII digits only (str.isdigit also takes "²"), and never past SQLite's integers.
    if prefix != "nango-hooks" or not number.isascii() or not number.isdigit():
        return None
    if len(number) > 18:
        return None
    return int(number)


def filter_actions(joined: str) -> list[str]:
    """The actions a filter lets through, as Nango's records store decides them
    (packages/records/lib/stores/postgres/postgres.ts, getRecords: a `switch (true)`
    over the upper-cased filter, first match wins): `updated,deleted` reads UPDATED
    only, three words read the live records, a repeated word reads everything."""
    has = {word: word in joined for word in ("ADDED", "UPDATED", "DELETED")}
    if has["ADDED"] and has["UPDATED"]:
        return ["ADDED", "UPDATED"]
    if has["UPDATED"] and has["DELETED"]:
        return ["UPDATED"]
    if has["ADDED"] and has["DELETED"]:
        return ["ADDED"]
    if joined in ("ADDED", "UPDATED", "DELETED"):
        return [joined]
    return []  # no case matched: no filter


class Page(NamedTuple):
    """A page of GET /records, the JSON already assembled."""

    body: bytes
    record_count: int
    next_cursor: str | None
    # Whether the connection the page was asked for is live (always True when the
    # caller did not ask: `records_page(…, check_connection=False)`).
    connection_known: bool = True


def metadata_json(row: Sequence[Any]) -> str:
    first_seen, modified, action, deleted_at, pruned_at, seq = row
    return (
        f'{{"first_seen_at":"{postgres_time(first_seen)}",'
        f'"last_modified_at":"{postgres_time(modified)}",'
        f'"last_action":"{action}","deleted_at":{_json_or_null(deleted_at)},'
        f'"pruned_at":{_json_or_null(pruned_at)},"cursor":"{encode_cursor(seq)}"}}'
    )


def postgres_time(stamp: str) -> str:
    """A stored time (`2026-12-01T10:00:00.120Z`) as Nango's API shows it in
    `_nango_metadata`: Postgres's `to_json` of a timestamptz (the records store selects
    `to_json(created_at) as first_seen_at`, … in packages/records/lib/models/
    records.ts, getRecords), an offset instead of `Z`, no trailing zeros in the fraction
    (`2026-12-01T10:00:00.12+00:00`)."""
    if not stamp.endswith("Z"):
        return stamp
    whole, _, fraction = stamp[:-1].partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}+00:00" if fraction else f"{whole}+00:00"


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else f'"{postgres_time(value)}"'


def with_metadata(data: str, metadata: str) -> str:
    # The stored record is a compact JSON object: the metadata goes in before its "}".
    if data == "{}":
        return '{"_nango_metadata":' + metadata + "}"
    return data[:-1] + ',"_nango_metadata":' + metadata + "}"


def records_page(
    store: Database,
    connection_id: str,
    provider_config_key: str,
    model: str,
    variant: str = "base",
    modified_after: str | None = None,
    limit: int = DEFAULT_LIMIT,
    actions: Sequence[str] = (),
    after_seq: int = 0,
    ids: Sequence[str] = (),
    check_connection: bool = False,
) -> Page:
    """One page of records in modification order, after position `after_seq`;
    `check_connection`: also whether the connection is live (`Page.connection_known`).

    One statement answers it all, the page's JSON joined by SQLite as bytes: GET
    /records' hot path (benchmarks/api_records.py) spent a third of its time here,
    and a row per record, decoded to text and encoded again, cost a quarter of that.
    The records are joined from a subquery ordered by `seq` with a LIMIT, which SQLite
    runs as a co-routine yielding rows in that order (such a subquery is never
    flattened into the aggregate); tests/storage/test_record_pages.py holds it to the
    order of a plain SELECT."""
    where = (
        "connection_id = :connection_id AND provider_config_key = :provider_config_key "
        "AND model = :model AND variant = :variant"
    )
    params: dict[str, Any] = {
        "connection_id": connection_id,
        "provider_config_key": provider_config_key,
        "model": model,
        "variant": variant,
        "after": after_seq,
        "limit": limit,
    }
    if modified_after:
        where += " AND last_modified_at >= :modified_after"
        params["modified_after"] = modified_after
    if actions:
        where += " AND last_action IN (" + ",".join(f":a{i}" for i in range(len(actions))) + ")"
        params.update({f"a{i}": action for i, action in enumerate(actions)})
    if ids:
        where += " AND record_id IN (" + ",".join(f":i{i}" for i in range(len(ids))) + ")"
        params.update({f"i{i}": record_id for i, record_id in enumerate(ids)})
    page = f"SELECT wire, seq FROM records WHERE {where} AND seq > :after ORDER BY seq LIMIT :limit"
    known = f"({connections.LIVE_CONNECTION})" if check_connection else "1"
    sql = (
        f"SELECT {known}, count(*), max(seq), CAST(group_concat(wire, ',') AS BLOB), "
        f"EXISTS (SELECT 1 FROM records WHERE {where} AND seq > "
        f"(SELECT max(seq) FROM ({page}))) FROM ({page})"
    )
    with store.reading() as db:
        found, count, last, joined, more = db.execute(sql, params).fetchone()
    next_cursor = encode_cursor(last) if more and count else None
    head = (
        b'{"next_cursor":"' + next_cursor.encode() + b'"' if next_cursor else b'{"next_cursor":null'
    )
    body = head + b',"records":[' + (joined or b"") + b"]}"
    return Page(body, count, next_cursor, found is not None)


def legacy_records(
    store: Database,
    connection_id: str,
    provider_config_key: str,
    model: str,
    delta: str | None,
    offset: int,
    limit: int | None,
    sort_by: str,
    order: str,
    with_metadata: bool,
) -> tuple[bytes, int]:
    """GET /sync/records: a plain list, offset-paginated (the older API)."""
    column = "first_seen_at" if sort_by == "createdAt" else "last_modified_at"
    sql = (
        "SELECT wire, data FROM records "
        "WHERE connection_id = ? AND provider_config_key = ? AND model = ?"
    )
    params: list[Any] = [connection_id, provider_config_key, model]
    if delta:
        sql += " AND last_modified_at >= ?"
        params.append(delta)
    sql += f" ORDER BY {column} {'DESC' if order == 'desc' else 'ASC'}, seq LIMIT ? OFFSET ?"
    params += [limit if limit is not None else -1, offset]
    with store.reading() as db:
        rows = db.execute(sql, params).fetchall()
    parts = [row[0] if with_metadata else row[1] for row in rows]
    return ("[" + ",".join(parts) + "]").encode(), len(rows)


class StoredRecord(NamedTuple):
    connection_id: str
    provider_config_key: str
    model: str
    variant: str
    record_id: str
    data: dict[str, Any]
    first_seen_at: str
    last_modified_at: str
    last_action: str
    deleted_at: str | None
    pruned_at: str | None
    cursor: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "model": self.model,
            "variant": self.variant,
            "id": self.record_id,
            "record": self.data,
            "_nango_metadata": {
                "first_seen_at": self.first_seen_at,
                "last_modified_at": self.last_modified_at,
                "last_action": self.last_action,
                "deleted_at": self.deleted_at,
                "pruned_at": self.pruned_at,
                "cursor": self.cursor,
            },
        }


def list_records(
    store: Database,
    connection_id: str | None = None,
    model: str | None = None,
    record_id: str | None = None,
    include_deleted: bool = True,
    limit: int | None = 50,
) -> list[StoredRecord]:
    """Most recently changed first (for `records list` and `records show`)."""
    where, params = where_equal(connection_id=connection_id, model=model, record_id=record_id)
    if not include_deleted:
        where += (" AND" if where else " WHERE") + " deleted_at IS NULL"
    sql = (
        "SELECT connection_id, provider_config_key, model, variant, record_id, data, "
        "first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records"
        + where
        + " ORDER BY seq DESC"
        + (" LIMIT ?" if limit is not None else "")
    )
    with store.reading() as db:
        rows = db.execute(sql, [*params, *([limit] if limit is not None else [])]).fetchall()
    return [
        StoredRecord(
            connection_id=row[0],
            provider_config_key=row[1],
            model=row[2],
            variant=row[3],
            record_id=row[4],
            data=json.loads(row[5]),
            first_seen_at=row[6],
            last_modified_at=row[7],
            last_action=row[8],
            deleted_at=row[9],
            pruned_at=row[10],
            cursor=encode_cursor(row[11]),
        )
        for row in rows
    ]
