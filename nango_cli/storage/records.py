"""The records sync webhooks announce, as Nango's API would hold them.

`fire` writes here before it sends (so a handler that fetches right after the
webhook finds the data); `nango-hooks api` reads from here. Records are
ordered by `seq`, a store-wide counter bumped at every change: "modification
order", with ties broken for good, so a cursor (a position in that order) never
repeats or skips a record that did not change while a handler paged. A record
changed again moves to the end, as in Nango.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Literal, NamedTuple

from nango_cli.protocol.fakedata import Generator
from nango_cli.storage.connections import insert_connection
from nango_cli.storage.database import Database
from nango_cli.storage.record_pages import MAX_LIMIT, encode_cursor, metadata_json, with_metadata
from nango_cli.storage.sql import dumps, where_equal
from nango_cli.support.timefmt import now_timestamp, shift

Action = Literal["ADDED", "UPDATED", "DELETED"]


_CHUNK = 500  # SQLite variables per IN (…) query
_BATCH = 5_000  # records made and written at a time


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
    # The positions (seq) this change's writes took, first to last: the records a
    # handler must read to have fetched what the webhook announced.
    first_seq: int = 0
    last_seq: int = 0
    # Records the change updated or deleted that did not exist: made first, as if
    # earlier runs had added them (a webhook announcing 20 updates of 6 live records).
    made_earlier: int = 0


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

    def live_count(self, change: Change) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM records WHERE connection_id = ? AND provider_config_key = ? "
            "AND model = ? AND variant = ? AND deleted_at IS NULL",
            self._key(change),
        ).fetchone()
        return int(row[0])

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
        # A model with no records yet (a first sync) has no id to collide with.
        existing = number > 0
        numeric = _id_is_numeric(generator)
        tag = connection_tag(change.connection_id)
        chosen: list[tuple[Any, int]] = []
        while len(chosen) < count:
            batch = []
            for _ in range(count - len(chosen)):
                number += 1
                made: Any = (
                    int(tag, 16) * 1_000_000 + number
                    if numeric
                    else f"{generator.slug}-{tag}-{number}"
                )
                batch.append((made, number))
            taken = self._taken(change, [str(i) for i, _ in batch]) if existing else set()
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
        """Add records, each with its `wire` made here: every record in the batch shares
        its metadata but the cursor (making it afterwards from the stored rows cost a
        fifth of `fire --added 10000`)."""
        key = self._key(change)
        wire_metadata = metadata_json((first_seen, modified, "ADDED", None, None, 0))
        before_cursor = wire_metadata[: wire_metadata.rindex('"cursor":"') + len('"cursor":"')]
        rows = []
        for rid, data in items:
            seq = self.next_seq()
            wire = with_metadata(data, f'{before_cursor}{encode_cursor(seq)}"}}')
            rows.append(
                (*key, rid, data, first_seen, modified, "ADDED", seq, change.webhook_id, wire)
            )
        self.db.executemany(
            "INSERT INTO records (connection_id, provider_config_key, model, variant, record_id, "
            "data, first_seen_at, last_modified_at, last_action, seq, webhook_id, wire) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            (str(rid), dumps(generator.record(rid, self.seed, number)))
            for rid, number in self._free_ids(change, generator, count)
        ]


def connection_tag(connection_id: str) -> str:
    """Four hex digits of the connection id's hash, in every generated record id: the
    same connection always gets the same ids, and two connections' records never share
    one (an app keying its copies by record id, as Nango's sample app does, would
    otherwise let a second connection's records overwrite the first's)."""
    import hashlib

    return hashlib.sha256(connection_id.encode("utf-8", "surrogatepass")).hexdigest()[:4]


def _id_is_numeric(generator: Generator) -> bool:
    spec = (
        generator.schema.get("properties", {}).get("id")
        if isinstance(generator.schema, dict)
        else None
    )
    return isinstance(spec, dict) and spec.get("type") in ("number", "integer")


def apply_changes(
    store: Database,
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
            insert_connection(db, change.connection_id, change.provider_config_key)
            generator = generators.get(change.model) or Generator(change.model, None, {})
            modified = max(now_timestamp(), change.modified_after)
            earlier = shift(change.modified_after, timedelta(hours=-1))
            if change.initial:
                db.execute(
                    "DELETE FROM records WHERE connection_id = ? AND provider_config_key = ? "
                    "AND model = ? AND variant = ?",
                    writer._key(change),
                )
            first_seq = writer.seq + 1
            live_before = writer.live_count(change) if not change.initial else 0
            touched: set[str] = set()
            added: list[str] = []
            updated: list[str] = []
            if supplied is not None:
                items = [(str(r["id"]), dumps(r)) for r in supplied]
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
                # Made and written a batch at a time: memory follows the batch, not the
                # count (a million records a webhook is allowed).
                remaining = change.added
                while remaining > 0:
                    new = writer.generated(change, generator, min(remaining, _BATCH))
                    writer.insert(change, new, modified, modified)
                    added.extend(rid for rid, _ in new)
                    remaining -= len(new)
                touched.update(added)
                updated = _change_existing(
                    writer, change, generator, touched, (modified, earlier), "UPDATED"
                )
            deleted = _change_existing(
                writer, change, generator, touched, (modified, earlier), "DELETED"
            )
            needed = 0 if supplied is not None else change.updated
            made = max(0, needed + change.deleted - live_before)
            applied.append(Applied(change, added, updated, deleted, first_seq, writer.seq, made))
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
    modified, earlier = moment
    done: list[str] = []
    while len(done) < count:  # a batch at a time, as the added records
        targets = _ensure(
            writer, change, generator, min(count - len(done), _BATCH), touched, earlier
        )
        if action == "UPDATED":
            targets = [
                # any stable number per record will do: the new values only need to differ
                (
                    rid,
                    dumps(
                        generator.change(json.loads(data), writer.seed, sum(map(ord, rid)), turn)
                    ),
                )
                for turn, (rid, data) in enumerate(targets, writer.seq)
            ]
        writer.modify(change, targets, action, modified)
        touched.update(rid for rid, _ in targets)
        done.extend(rid for rid, _ in targets)
        _refresh_wire(writer.db)
    return done


def _refresh_wire(db: Any) -> None:
    """Make `wire` (the record as GET /records returns it) for every row written since."""
    rows = db.execute(
        "SELECT rowid, data, first_seen_at, last_modified_at, last_action, deleted_at, "
        "pruned_at, seq FROM records WHERE wire IS NULL"
    ).fetchall()
    db.executemany(
        "UPDATE records SET wire = ? WHERE rowid = ?",
        [(with_metadata(row[1], metadata_json(row[2:])), row[0]) for row in rows],
    )


def known_ids(store: Database, change: Change, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the change's model already has (for `fire --records`)."""
    with store.reading() as db:
        return _Writer(db, 0)._taken(change, ids)


def clear_records(
    store: Database, connection_id: str | None = None, model: str | None = None
) -> int:
    where, params = where_equal(connection_id=connection_id, model=model)
    with store.transaction() as db:
        return int(db.execute("DELETE FROM records" + where, params).rowcount)


def prune(
    store: Database,
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
                    dumps({"id": json.loads(data).get("id", rid)}),
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


def live_ids(store: Database, connection_id: str, provider_config_key: str, model: str) -> set[str]:
    """The ids of a model's records that are not deleted (what a handler's copy of the
    connection must hold), every variant."""
    where, params = where_equal(
        connection_id=connection_id, provider_config_key=provider_config_key, model=model
    )
    with store.reading() as db:
        rows = db.execute(
            "SELECT record_id FROM records" + where + " AND deleted_at IS NULL", params
        ).fetchall()
    return {str(row[0]) for row in rows}


def positions(
    store: Database,
    connection_id: str,
    provider_config_key: str,
    model: str,
    variant: str,
    first_seq: int,
    last_seq: int,
) -> list[tuple[int, str]]:
    """(seq, last_action) of the model's records now at positions first..last."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT seq, last_action FROM records WHERE connection_id = ? AND "
            "provider_config_key = ? AND model = ? AND variant = ? AND seq BETWEEN ? AND ?",
            (connection_id, provider_config_key, model, variant, first_seq, last_seq),
        ).fetchall()
    return [(int(row[0]), str(row[1])) for row in rows]


def empty_cache(
    store: Database, connection_id: str, provider_config_key: str, model: str
) -> list[dict[str, Any]]:
    """`/sync/trigger` with `opts.emptyCache`: every record of the model is removed, as
    Nango deletes them before the run; returns the live ones (what the run finds again)."""
    where, params = where_equal(
        connection_id=connection_id, provider_config_key=provider_config_key, model=model
    )
    with store.transaction() as db:
        rows = db.execute(
            "SELECT data FROM records" + where + " AND deleted_at IS NULL ORDER BY seq", params
        ).fetchall()
        db.execute("DELETE FROM records" + where, params)
    return [json.loads(row[0]) for row in rows]
