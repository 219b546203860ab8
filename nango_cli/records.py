"""What Nango's API would hold after the webhooks fired: records, connections and
async action results, kept in the history store (tables from migration 003).

`fire` writes here before it sends (so a handler that fetches right after the
webhook finds the data); `nango-hooks api` reads from here. Records are
ordered by `seq`, a store-wide counter bumped at every change: "modification
order", with ties broken for good, so a cursor (a position in that order) never
repeats or skips a record that did not change while a handler paged. A record
changed again moves to the end, as in Nango.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from nango_cli.fakedata import Generator
from nango_cli.payloads import format_timestamp, now_timestamp
from nango_cli.store import Store, new_id

Action = Literal["ADDED", "UPDATED", "DELETED"]
MAX_LIMIT = 10_000  # Nango's maximum for GET /records
DEFAULT_LIMIT = 100
_CHUNK = 500  # SQLite variables per IN (…) query


class Change(NamedTuple):
    """The changes one sync webhook announces, for one model of one connection."""

    connection_id: str
    provider_config_key: str
    model: str
    variant: str
    added: int
    updated: int
    deleted: int
    modified_after: str
    initial: bool = False
    webhook_id: str | None = None


class Applied(NamedTuple):
    change: Change
    added: list[str]
    updated: list[str]
    deleted: list[str]


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"nango-hooks:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The position a cursor names, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != "nango-hooks" or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


def _later(stamp: str, delta: timedelta) -> str:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + delta
    return format_timestamp(moment)


# ---------------------------------------------------------------- writing records


class _Writer:
    """One transaction's worth of record changes."""

    def __init__(self, db: Any, seed: int) -> None:
        self.db = db
        self.seed = seed
        row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
        self.seq = int(row[0])

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _key(self, change: Change) -> tuple[str, str, str, str]:
        return (change.connection_id, change.provider_config_key, change.model, change.variant)

    def _existing(self, change: Change, count: int, exclude: set[str]) -> list[tuple[str, str]]:
        """Up to `count` live records (id, data), least recently changed first."""
        found: list[tuple[str, str]] = []
        cursor = self.db.execute(
            "SELECT record_id, data FROM records WHERE connection_id = ? AND "
            "provider_config_key = ? AND model = ? AND variant = ? AND deleted_at IS NULL "
            "ORDER BY seq",
            self._key(change),
        )
        for record_id, data in cursor:
            if record_id not in exclude:
                found.append((record_id, data))
                if len(found) == count:
                    break
        return found

    def _free_ids(self, change: Change, generator: Generator, count: int) -> list[tuple[Any, int]]:
        """`count` new (id, number) pairs: numbered after the model's records so far."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM records WHERE connection_id = ? AND provider_config_key = ? "
            "AND model = ? AND variant = ?",
            self._key(change),
        ).fetchone()
        number = int(row[0])
        numeric = _id_is_numeric(generator)
        chosen: list[tuple[Any, int]] = []
        while len(chosen) < count:
            batch = []
            for _ in range(count - len(chosen)):
                number += 1
                batch.append((number if numeric else f"{generator.slug}-{number}", number))
            taken = self._taken(change, [str(i) for i, _ in batch])
            chosen.extend(pair for pair in batch if str(pair[0]) not in taken)
        return chosen

    def _taken(self, change: Change, ids: Sequence[str]) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.db.execute(
                "SELECT record_id FROM records WHERE connection_id = ? AND provider_config_key = ? "
                "AND model = ? AND variant = ? AND record_id IN ("
                + ",".join("?" * len(chunk))
                + ")",
                (*self._key(change), *chunk),
            )
            taken.update(r[0] for r in rows)
        return taken

    def insert(
        self, change: Change, items: Iterable[tuple[str, str]], first_seen: str, modified: str
    ) -> None:
        rows = [
            (
                *self._key(change),
                rid,
                data,
                first_seen,
                modified,
                "ADDED",
                self.next_seq(),
                change.webhook_id,
            )
            for rid, data in items
        ]
        self.db.executemany(
            "INSERT INTO records (connection_id, provider_config_key, model, variant, record_id, "
            "data, first_seen_at, last_modified_at, last_action, seq, webhook_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def modify(
        self, change: Change, items: Iterable[tuple[str, str]], action: Action, modified: str
    ) -> None:
        deleted_at = modified if action == "DELETED" else None
        self.db.executemany(
            "UPDATE records SET data = ?, last_modified_at = ?, last_action = ?, deleted_at = ?, "
            "seq = ?, webhook_id = ?, wire = NULL WHERE connection_id = ? "
            "AND provider_config_key = ? AND model = ? AND variant = ? AND record_id = ?",
            [
                (
                    data,
                    modified,
                    action,
                    deleted_at,
                    self.next_seq(),
                    change.webhook_id,
                    *self._key(change),
                    rid,
                )
                for rid, data in items
            ],
        )

    def generated(self, change: Change, generator: Generator, count: int) -> list[tuple[str, str]]:
        return [
            (str(rid), _dumps(generator.record(rid, self.seed, number)))
            for rid, number in self._free_ids(change, generator, count)
        ]


def _id_is_numeric(generator: Generator) -> bool:
    spec = (
        generator.schema.get("properties", {}).get("id")
        if isinstance(generator.schema, dict)
        else None
    )
    return isinstance(spec, dict) and spec.get("type") in ("number", "integer")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def apply_changes(
    store: Store,
    changes: Sequence[Change],
    generators: dict[str, Generator],
    seed: int = 0,
    supplied: Sequence[dict[str, Any]] | None = None,
) -> list[Applied]:
    """Write what each change announces, in one transaction: `added` new records,
    `updated` existing ones changed (made first, as earlier runs' records, when there
    are too few), `deleted` ones soft-deleted. With `supplied` (one model), those exact
    records are added or, when their id exists, updated. Every record written gets
    `last_modified_at` at or after the change's `modified_after`."""
    applied: list[Applied] = []
    with store.transaction() as db:
        writer = _Writer(db, seed)
        for change in changes:
            # The connection a sync ran for exists, even without an auth webhook for it.
            _insert_connection(db, change.connection_id, change.provider_config_key)
            generator = generators.get(change.model) or Generator(change.model, None, {})
            modified = max(now_timestamp(), change.modified_after)
            earlier = _later(change.modified_after, timedelta(hours=-1))
            if change.initial:
                db.execute(
                    "DELETE FROM records WHERE connection_id = ? AND provider_config_key = ? "
                    "AND model = ? AND variant = ?",
                    writer._key(change),
                )
            touched: set[str] = set()
            added: list[str] = []
            updated: list[str] = []
            if supplied is not None:
                items = [(str(r["id"]), _dumps(r)) for r in supplied]
                known = writer._taken(change, [rid for rid, _ in items])
                for item in items:  # in the file's order: that is their modification order
                    if item[0] in known:
                        writer.modify(change, [item], "UPDATED", modified)
                    else:
                        writer.insert(change, [item], modified, modified)
                added = [rid for rid, _ in items if rid not in known]
                updated = [rid for rid, _ in items if rid in known]
                touched.update(added + updated)
            else:
                new = writer.generated(change, generator, change.added)
                writer.insert(change, new, modified, modified)
                added = [rid for rid, _ in new]
                touched.update(added)
                updated = _change_existing(
                    writer, change, generator, touched, (modified, earlier), "UPDATED"
                )
            deleted = _change_existing(
                writer, change, generator, touched, (modified, earlier), "DELETED"
            )
            applied.append(Applied(change, added, updated, deleted))
        _refresh_wire(db)
    return applied


def _ensure(
    writer: _Writer,
    change: Change,
    generator: Generator,
    count: int,
    exclude: set[str],
    earlier: str,
) -> list[tuple[str, str]]:
    """`count` live records not in `exclude`; records from "earlier runs" are made first
    when there are too few."""
    found = writer._existing(change, count, exclude)
    if len(found) < count:
        made = writer.generated(change, generator, count - len(found))
        writer.insert(change, made, earlier, earlier)
        found += made
    return found


def _change_existing(
    writer: _Writer,
    change: Change,
    generator: Generator,
    touched: set[str],
    moment: tuple[str, str],
    action: Action,
) -> list[str]:
    """Update or delete as many live records as the change says (not ones this run
    already touched), oldest first. `moment` is (modified, earlier-run time)."""
    count = change.updated if action == "UPDATED" else change.deleted
    if count <= 0:
        return []
    modified, earlier = moment
    targets = _ensure(writer, change, generator, count, touched, earlier)
    if action == "UPDATED":
        targets = [
            # any stable number per record will do: the new values only need to differ
            (rid, _dumps(generator.change(json.loads(data), writer.seed, sum(map(ord, rid)), turn)))
            for turn, (rid, data) in enumerate(targets, writer.seq)
        ]
    writer.modify(change, targets, action, modified)
    touched.update(rid for rid, _ in targets)
    return [rid for rid, _ in targets]


def _refresh_wire(db: Any) -> None:
    """Make `wire` (the record as GET /records returns it) for every row written since."""
    rows = db.execute(
        "SELECT rowid, data, first_seen_at, last_modified_at, last_action, deleted_at, "
        "pruned_at, seq FROM records WHERE wire IS NULL"
    ).fetchall()
    db.executemany(
        "UPDATE records SET wire = ? WHERE rowid = ?",
        [(_with_metadata(row[1], _metadata(row[2:])), row[0]) for row in rows],
    )


def known_ids(store: Store, change: Change, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the change's model already has (for `fire --records`)."""
    with store.reading() as db:
        return _Writer(db, 0)._taken(change, ids)


def clear_records(store: Store, connection_id: str | None = None, model: str | None = None) -> int:
    where, params = _where(connection_id=connection_id, model=model)
    with store.transaction() as db:
        return int(db.execute("DELETE FROM records" + where, params).rowcount)


def _where(**equal: str | None) -> tuple[str, list[Any]]:
    clauses = [f"{name} = ?" for name, value in equal.items() if value is not None]
    params = [value for value in equal.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


# ---------------------------------------------------------------- reading records


class Page(NamedTuple):
    """A page of GET /records, the JSON already assembled."""

    body: bytes
    record_count: int
    next_cursor: str | None


def _metadata(row: Sequence[Any]) -> str:
    first_seen, modified, action, deleted_at, pruned_at, seq = row
    return (
        f'{{"first_seen_at":"{first_seen}","last_modified_at":"{modified}",'
        f'"last_action":"{action}","deleted_at":{_json_or_null(deleted_at)},'
        f'"pruned_at":{_json_or_null(pruned_at)},"cursor":"{encode_cursor(seq)}"}}'
    )


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _with_metadata(data: str, metadata: str) -> str:
    # The stored record is a compact JSON object: the metadata goes in before its "}".
    if data == "{}":
        return '{"_nango_metadata":' + metadata + "}"
    return data[:-1] + ',"_nango_metadata":' + metadata + "}"


def records_page(
    store: Store,
    connection_id: str,
    provider_config_key: str,
    model: str,
    variant: str = "base",
    modified_after: str | None = None,
    limit: int = DEFAULT_LIMIT,
    actions: Sequence[str] = (),
    after_seq: int = 0,
    ids: Sequence[str] = (),
) -> Page:
    """One page of records in modification order, after position `after_seq`."""
    sql = (
        "SELECT wire, seq FROM records WHERE connection_id = ? AND provider_config_key = ? "
        "AND model = ? AND variant = ? AND seq > ?"
    )
    params: list[Any] = [connection_id, provider_config_key, model, variant, after_seq]
    if modified_after:
        sql += " AND last_modified_at >= ?"
        params.append(modified_after)
    if actions:
        sql += " AND last_action IN (" + ",".join("?" * len(actions)) + ")"
        params.extend(actions)
    if ids:
        sql += " AND record_id IN (" + ",".join("?" * len(ids)) + ")"
        params.extend(ids)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit + 1)
    with store.reading() as db:
        rows = db.execute(sql, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][1]) if more and rows else None
    body = (
        '{"next_cursor":'
        + (f'"{next_cursor}"' if next_cursor else "null")
        + ',"records":['
        + ",".join([row[0] for row in rows])
        + "]}"
    )
    return Page(body.encode(), len(rows), next_cursor)


def legacy_records(
    store: Store,
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


def prune(
    store: Store,
    connection_id: str,
    provider_config_key: str,
    model: str,
    variant: str,
    until_seq: int,
    limit: int | None,
) -> tuple[int, bool]:
    """Empty the payload of records up to a cursor (id and metadata stay)."""
    stamp = now_timestamp()
    with store.transaction() as db:
        rows = db.execute(
            "SELECT record_id, data FROM records WHERE connection_id = ? "
            "AND provider_config_key = ? AND model = ? AND variant = ? AND seq <= ? "
            "AND pruned_at IS NULL ORDER BY seq LIMIT ?",
            (
                connection_id,
                provider_config_key,
                model,
                variant,
                until_seq,
                (limit or MAX_LIMIT) + 1,
            ),
        ).fetchall()
        more = limit is not None and len(rows) > limit
        rows = rows[: limit or MAX_LIMIT]
        db.executemany(
            "UPDATE records SET data = ?, pruned_at = ?, wire = NULL WHERE connection_id = ? AND "
            "provider_config_key = ? AND model = ? AND variant = ? AND record_id = ?",
            [
                (
                    _dumps({"id": json.loads(data).get("id", rid)}),
                    stamp,
                    connection_id,
                    provider_config_key,
                    model,
                    variant,
                    rid,
                )
                for rid, data in rows
            ],
        )
        _refresh_wire(db)
    return len(rows), more


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
    store: Store,
    connection_id: str | None = None,
    model: str | None = None,
    record_id: str | None = None,
    include_deleted: bool = True,
    limit: int | None = 50,
) -> list[StoredRecord]:
    """Most recently changed first (for `records list` and `records show`)."""
    where, params = _where(connection_id=connection_id, model=model, record_id=record_id)
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


# ---------------------------------------------------------------- connections

_FAKE_CREDENTIALS: dict[str, dict[str, Any]] = {
    "OAUTH2": {"type": "OAUTH2", "access_token": "fake-access-token-not-for-use"},
    "OAUTH1": {
        "type": "OAUTH1",
        "oauth_token": "fake-oauth-token",
        "oauth_token_secret": "fake-oauth-token-secret",
    },
    "API_KEY": {"type": "API_KEY", "apiKey": "fake-api-key-not-for-use"},
    "BASIC": {"type": "BASIC", "username": "fake-user", "password": "fake-password"},
}


def credentials_for(auth_mode: str, created_at: str) -> dict[str, Any]:
    """Credentials shaped like the auth mode's, clearly fake."""
    credentials = dict(_FAKE_CREDENTIALS.get(auth_mode, {"type": auth_mode}))
    if auth_mode == "OAUTH2":
        credentials["expires_at"] = _later(created_at, timedelta(hours=1))
        credentials["raw"] = {
            "access_token": credentials["access_token"],
            "token_type": "bearer",
            "expires_in": 3600,
        }
    else:
        credentials.setdefault("raw", {})
    return credentials


def apply_auth(store: Store, body: dict[str, Any], webhook_id: str | None = None) -> None:
    """An auth webhook's effect on the connection it names."""
    connection_id = str(body.get("connectionId"))
    key = str(body.get("providerConfigKey"))
    operation = body.get("operation")
    stamp = now_timestamp()
    with store.transaction() as db:
        if operation == "deletion":
            db.execute(
                "UPDATE connections SET deleted_at = ?, updated_at = ? WHERE connection_id = ? "
                "AND provider_config_key = ?",
                (stamp, stamp, connection_id, key),
            )
            return
        if not body.get("success"):
            error = {"type": "auth", "log_id": webhook_id or new_id()}
            row = db.execute(
                "SELECT errors FROM connections "
                "WHERE connection_id = ? AND provider_config_key = ?",
                (connection_id, key),
            ).fetchone()
            if row is not None:
                errors = [*json.loads(row[0]), error][-10:]
                db.execute(
                    "UPDATE connections SET errors = ?, updated_at = ? WHERE connection_id = ? "
                    "AND provider_config_key = ?",
                    (_dumps(errors), stamp, connection_id, key),
                )
            return
        end_user = body.get("endUser")
        db.execute(
            "INSERT INTO connections (connection_id, provider_config_key, provider, auth_mode, "
            "created_at, updated_at, end_user, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (connection_id, provider_config_key) DO UPDATE SET "
            "provider = excluded.provider, auth_mode = excluded.auth_mode, "
            "updated_at = excluded.updated_at, end_user = excluded.end_user, "
            "tags = excluded.tags, deleted_at = NULL, errors = '[]', "
            "created_at = CASE WHEN connections.deleted_at IS NULL "
            "THEN connections.created_at ELSE excluded.created_at END",
            (
                connection_id,
                key,
                str(body.get("provider") or key),
                str(body.get("authMode") or "OAUTH2"),
                stamp,
                stamp,
                _dumps(end_user) if isinstance(end_user, dict) else None,
                _dumps(body.get("tags") or {}),
            ),
        )


def ensure_connection(store: Store, connection_id: str, provider_config_key: str) -> None:
    """A connection a sync ran for exists, even without an auth webhook fired for it."""
    with store.transaction() as db:
        _insert_connection(db, connection_id, provider_config_key)


def _insert_connection(db: Any, connection_id: str, provider_config_key: str) -> None:
    stamp = now_timestamp()
    db.execute(
        "INSERT OR IGNORE INTO connections (connection_id, provider_config_key, provider, "
        "auth_mode, created_at, updated_at) VALUES (?, ?, ?, 'OAUTH2', ?, ?)",
        (connection_id, provider_config_key, provider_config_key, stamp, stamp),
    )


class Connection(NamedTuple):
    id: int
    connection_id: str
    provider_config_key: str
    provider: str
    auth_mode: str
    created_at: str
    updated_at: str
    end_user: dict[str, Any] | None
    tags: dict[str, str]
    metadata: dict[str, Any] | None
    errors: list[dict[str, str]]

    def api_end_user(self) -> dict[str, Any] | None:
        """endUser as Nango's API shows it (ApiEndUser)."""
        if not self.end_user:
            return None
        organization = self.end_user.get("organizationId")
        return {
            "id": self.end_user.get("endUserId"),
            "display_name": None,
            "email": self.end_user.get("endUserEmail"),
            "tags": self.end_user.get("tags") or None,
            "organization": {"id": organization, "display_name": None} if organization else None,
        }

    def public(self) -> dict[str, Any]:
        """GET /connections list item (ApiPublicConnection)."""
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "created": self.created_at,
            "metadata": self.metadata,
            "provider": self.provider,
            "errors": self.errors,
            "end_user": self.api_end_user(),
            "tags": self.tags,
        }

    def full(self) -> dict[str, Any]:
        """GET /connections/{id} (ApiPublicConnectionFull)."""
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "provider": self.provider,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_fetched_at": now_timestamp(),
            "metadata": self.metadata,
            "connection_config": {},
            "webhook_url_override": None,
            "errors": self.errors,
            "end_user": self.api_end_user(),
            "tags": self.tags,
            "credentials": credentials_for(self.auth_mode, self.created_at),
        }


_CONNECTION_COLUMNS = (
    "id, connection_id, provider_config_key, provider, auth_mode, created_at, updated_at, "
    "end_user, tags, metadata, errors"
)


def _connection(row: Sequence[Any]) -> Connection:
    return Connection(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        json.loads(row[7]) if row[7] else None,
        json.loads(row[8] or "{}"),
        json.loads(row[9]) if row[9] else None,
        json.loads(row[10] or "[]"),
    )


def get_connection(
    store: Store, connection_id: str, provider_config_key: str | None = None
) -> Connection | None:
    sql = (
        f"SELECT {_CONNECTION_COLUMNS} FROM connections "
        "WHERE connection_id = ? AND deleted_at IS NULL"
    )
    params: list[Any] = [connection_id]
    if provider_config_key is not None:
        sql += " AND provider_config_key = ?"
        params.append(provider_config_key)
    with store.reading() as db:
        row = db.execute(sql + " ORDER BY id LIMIT 1", params).fetchone()
    return _connection(row) if row else None


def list_connections(
    store: Store,
    connection_id: str | None = None,
    integration: str | None = None,
    end_user_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Connection]:
    where, params = _where(connection_id=connection_id, provider_config_key=integration)
    where += (" AND" if where else " WHERE") + " deleted_at IS NULL"
    with store.reading() as db:
        rows = db.execute(
            f"SELECT {_CONNECTION_COLUMNS} FROM connections{where} ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
    found = [_connection(r) for r in rows]
    if end_user_id is not None:
        found = [c for c in found if (c.end_user or {}).get("endUserId") == end_user_id]
    return found


def known_integration(store: Store, provider_config_key: str) -> bool:
    with store.reading() as db:
        row = db.execute(
            "SELECT 1 FROM connections WHERE provider_config_key = ? LIMIT 1",
            (provider_config_key,),
        ).fetchone()
    return row is not None


# ---------------------------------------------------------------- async actions

DEFAULT_ACTION_RESULT: dict[str, Any] = {"success": True, "message": "done (nango-hooks sample)"}


def store_action_result(
    store: Store, body: dict[str, Any], result: Any, webhook_id: str | None = None
) -> None:
    payload = body.get("payload") or {}
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO action_results (id, connection_id, provider_config_key, "
            "result, created_at, webhook_id) VALUES (?, ?, ?, ?, ?, ?)",
            (
                str(payload.get("id")),
                str(body.get("connectionId")),
                str(body.get("providerConfigKey")),
                _dumps(DEFAULT_ACTION_RESULT if result is None else result),
                now_timestamp(),
                webhook_id,
            ),
        )


def action_result(store: Store, action_id: str) -> bytes | None:
    with store.reading() as db:
        row = db.execute("SELECT result FROM action_results WHERE id = ?", (action_id,)).fetchone()
    return row[0].encode() if row else None


# ---------------------------------------------------------------- API requests


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


def record_requests(store: Store, requests: Sequence[ApiRequest]) -> None:
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO api_requests (id, created_at, method, path, query, status, "
            "connection_id, provider_config_key, model, record_count, next_cursor, error_code, "
            "body, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:4], _dumps(r.query), *r[5:]) for r in requests],
        )


def api_requests(
    store: Store, since: str | None = None, limit: int | None = 100
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
