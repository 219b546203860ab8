"""The history store: every webhook sent or received, and every delivery attempt.

SQLite in WAL mode with a busy timeout, so several `nango-hooks` processes can
share one file; every write is one `BEGIN IMMEDIATE` transaction. Webhooks are
written *before* they are sent (an outbox): a process killed mid-delivery
leaves a row in state `sending`, which the next process that opens the store
marks `interrupted` once the owning process is gone.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nango_cli.delivery.history_rows import (
    FAILED,
    INTERRUPTED,
    RESPONSE_BODY_CAP,
    SENDING,
    AttemptRecord,
    WebhookRecord,
    new_id,
)
from nango_cli.errors import NotFoundError, UsageError
from nango_cli.storage.database import Database
from nango_cli.storage.sql import dumps
from nango_cli.support.processes import pid_alive
from nango_cli.support.text import escape_surrogates

_ATTEMPT_INSERT = (
    "{verb} INTO attempts (webhook_id, target, number, started_at, status_code, latency_ms, "
    "outcome, error_class, error, will_retry, wait_s, response_headers, response_body, "
    "response_truncated, redirects, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


# A webhook's row after attempts (?1 of them, the last answered ?2 in ?3 ms) and, in
# _FINISH, its final status ?4 (its sending process no longer owns it).
_COUNTED = (
    "attempt_count = attempt_count + ?1, "
    "last_status_code = CASE WHEN ?1 > 0 THEN ?2 ELSE last_status_code END, "
    "latency_ms = CASE WHEN ?1 > 0 THEN ?3 ELSE latency_ms END"
)
_COUNT_ATTEMPTS = f"UPDATE webhooks SET {_COUNTED} WHERE id = ?4"
_FINISH = f"UPDATE webhooks SET {_COUNTED}, status = ?4, owner_pid = NULL WHERE id = ?5"


_WEBHOOK_COLUMNS = (
    "id, created_at, direction, env, type, sync_name, model, connection_id, "
    "provider_config_key, targets, headers, body, status, attempt_count, "
    "last_status_code, latency_ms, replay_of, meta, negative"
)


def _row_to_webhook(row: sqlite3.Row) -> WebhookRecord:
    return WebhookRecord(
        id=row["id"],
        created_at=row["created_at"],
        direction=row["direction"],
        env=row["env"],
        type=row["type"],
        sync_name=row["sync_name"],
        model=row["model"],
        connection_id=row["connection_id"],
        provider_config_key=row["provider_config_key"],
        targets=json.loads(row["targets"]),
        headers=json.loads(row["headers"]),
        body=bytes(row["body"]),
        status=row["status"],
        attempt_count=row["attempt_count"],
        last_status_code=row["last_status_code"],
        latency_ms=row["latency_ms"],
        replay_of=row["replay_of"],
        meta=json.loads(row["meta"]),
        negative=bool(row["negative"]),
    )


def _row_to_attempt(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        target=row["target"],
        number=row["number"],
        started_at=row["started_at"],
        outcome=row["outcome"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        error_class=row["error_class"],
        error=row["error"],
        will_retry=bool(row["will_retry"]),
        wait_s=row["wait_s"],
        response_headers=json.loads(row["response_headers"] or "{}"),
        response_body=bytes(row["response_body"] or b""),
        response_truncated=bool(row["response_truncated"]),
        redirects=json.loads(row["redirects"] or "[]"),
        note=row["note"],
    )


# (row number, webhook) pairs; named here because Store.list shadows `list` in the class.
NumberedWebhooks = list[tuple[int, WebhookRecord]]


@dataclass
class HistoryFilter:
    type: str | None = None
    sync_name: str | None = None
    connection_id: str | None = None
    env: str | None = None
    direction: str | None = None
    # A received webhook's signature verdict (valid, invalid, missing, no-key, legacy-only).
    signature: str | None = None
    failed: bool = False
    # Deliberate negatives (forgeries sent to be rejected): None includes them except
    # among failures, where a rejected forgery is no failure.
    include_negative: bool | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = 50


class Store(Database):
    """The webhooks and attempts of the history, on one database connection."""

    # ------------------------------------------------------------ writes

    def record_webhook(self, webhook: WebhookRecord) -> None:
        self.record_webhooks([webhook])

    def record_webhooks(
        self,
        webhooks: Sequence[WebhookRecord],
        attempts: Sequence[tuple[str, AttemptRecord]] = (),
    ) -> None:
        """Insert in one transaction (with `attempts` of those webhooks, if any); on an id
        collision, new ids are drawn and it is retried."""
        for _ in range(5):
            try:
                with self._write() as db:
                    db.executemany(
                        f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}, owner_pid) "
                        "VALUES (" + ", ".join("?" * 20) + ")",
                        [(*_webhook_values(w), os.getpid()) for w in webhooks],
                    )
                    if attempts:
                        self._write_outcomes(db, attempts, ())
                return
            except sqlite3.IntegrityError:
                renamed = {}
                for webhook in webhooks:
                    old_id, webhook.id = webhook.id, new_id()
                    renamed[old_id] = webhook.id
                attempts = [(renamed.get(wid, wid), a) for wid, a in attempts]
        raise sqlite3.IntegrityError("could not find unused webhook ids")

    def record_attempt(self, webhook_id: str, attempt: AttemptRecord) -> None:
        self.record_outcomes([(webhook_id, attempt)])

    def record_attempts(self, items: Sequence[tuple[str, AttemptRecord]]) -> None:
        self.record_outcomes(items)

    def record_outcomes(
        self,
        attempts: Sequence[tuple[str, AttemptRecord]],
        finished: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Attempts (capped response bodies) and the webhooks they belong to, with the
        status of those in `finished` ((id, status)), in one transaction; each webhook's
        row is written once. Attempts of a webhook deleted meanwhile (`history clear` or
        `prune` while it was being sent) have nowhere to go and are dropped, not an
        error."""
        try:
            with self._write() as db:
                self._write_outcomes(db, attempts, finished)
        except sqlite3.IntegrityError:
            with self._write() as db:
                ids = sorted({webhook_id for webhook_id, _ in attempts})
                found = {
                    row[0]
                    for start in range(0, len(ids), 500)
                    for row in db.execute(
                        "SELECT id FROM webhooks WHERE id IN ("
                        + ",".join("?" * len(ids[start : start + 500]))
                        + ")",
                        ids[start : start + 500],
                    )
                }
                kept = [item for item in attempts if item[0] in found]
                self._write_outcomes(db, kept, finished)

    @staticmethod
    def _write_outcomes(
        db: sqlite3.Connection,
        attempts: Sequence[tuple[str, AttemptRecord]],
        finished: Sequence[tuple[str, str]],
    ) -> None:
        if attempts:
            db.executemany(
                _ATTEMPT_INSERT.format(verb="INSERT"),
                [_attempt_values(webhook_id, a) for webhook_id, a in attempts],
            )
        # Per webhook: [attempts added, the last one's status code and latency, status].
        # Load mode finishes most webhooks in the flush that records their attempt: one
        # UPDATE of the row instead of two (a fifth of its store time).
        changes: dict[str, list[Any]] = {}
        for webhook_id, a in attempts:
            change = changes.setdefault(webhook_id, [0, None, None, None])
            change[0] += 1
            change[1], change[2] = a.status_code, a.latency_ms
        for webhook_id, status in finished:
            changes.setdefault(webhook_id, [0, None, None, None])[3] = status
        counted = [(*c[:3], i) for i, c in changes.items() if c[3] is None]
        ended = [(*c, i) for i, c in changes.items() if c[3] is not None]
        if counted:
            db.executemany(_COUNT_ATTEMPTS, counted)
        if ended:
            db.executemany(_FINISH, ended)

    def import_webhooks(self, webhooks: Iterable[WebhookRecord]) -> tuple[int, int]:
        """Insert webhooks (with their attempts) not already stored, in one transaction:
        if `webhooks` raises (a bad line), nothing is imported. Returns (read, new)."""
        added = read = 0
        with self._write() as db:
            for w in webhooks:
                read += 1
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO webhooks ({_WEBHOOK_COLUMNS}, owner_pid) "
                    "VALUES (" + ", ".join("?" * 19) + ", NULL)",
                    _webhook_values(w),
                )
                if cursor.rowcount == 0:
                    continue
                added += 1
                db.executemany(
                    _ATTEMPT_INSERT.format(verb="INSERT OR IGNORE"),
                    [_attempt_values(w.id, a) for a in w.attempts],
                )
        return read, added

    def prune(self, before: str) -> int:
        """Delete webhooks (and their attempts) created before `before`; returns how many."""
        with self._write() as db:
            db.execute(
                "DELETE FROM attempts WHERE webhook_id IN "
                "(SELECT id FROM webhooks WHERE created_at < ?)",
                (before,),
            )
            deleted = int(
                db.execute("DELETE FROM webhooks WHERE created_at < ?", (before,)).rowcount
            )
            if deleted:
                _next_generation(db)
            return deleted

    def clear(self) -> int:
        with self._write() as db:
            db.execute("DELETE FROM attempts")
            deleted = int(db.execute("DELETE FROM webhooks").rowcount)
            _next_generation(db)
            return deleted

    def finish_webhook(self, webhook_id: str, status: str) -> None:
        self.record_outcomes((), [(webhook_id, status)])

    def finish_webhooks(self, items: Sequence[tuple[str, str]]) -> None:
        self.record_outcomes((), items)

    def set_verdicts(self, items: Sequence[tuple[str, str]]) -> None:
        """Keep the verdict a run decided on each forgery (app/forgeries.py) in its row."""
        with self._write() as db:
            db.executemany(
                "UPDATE webhooks SET meta = json_set(meta, '$.verdict', ?) WHERE id = ?",
                [(verdict, webhook_id) for webhook_id, verdict in items],
            )

    def mark_interrupted(self) -> int:
        """Mark rows left `sending` by processes that no longer run; returns how many."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, owner_pid FROM webhooks WHERE status = ?", (SENDING,)
            ).fetchall()
        dead = [r["id"] for r in rows if r["owner_pid"] is None or not pid_alive(r["owner_pid"])]
        if dead:
            with self._write() as db:
                db.executemany(
                    "UPDATE webhooks SET status = ?, owner_pid = NULL WHERE id = ? AND status = ?",
                    [(INTERRUPTED, wid, SENDING) for wid in dead],
                )
        return len(dead)

    # ------------------------------------------------------------ reads

    def resolve_id(self, prefix: str) -> str:
        """A full id from a unique prefix (like git); NotFoundError when none or several."""
        text = prefix.strip().lower()
        if not text or not all(c in "0123456789abcdef" for c in text):
            raise NotFoundError(
                f"no webhook with id {prefix!r}", hint="ids are hex; see `nango-hooks history`"
            )
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM webhooks WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                (text, text + "g"),
            ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no webhook with id {prefix!r}", hint="list ids with `nango-hooks history`"
            )
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5])
            raise NotFoundError(
                f"id prefix {prefix!r} is ambiguous ({shown}{', …' if len(rows) > 5 else ''})",
                hint="type more characters of the id",
            )
        return str(rows[0]["id"])

    def get(self, prefix: str, with_attempts: bool = True) -> WebhookRecord:
        webhook_id = self.resolve_id(prefix)
        with self._lock:
            row = self._db.execute(
                f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)
            ).fetchone()
            webhook = _row_to_webhook(row)
            if with_attempts:
                webhook.attempts = [
                    _row_to_attempt(a)
                    for a in self._db.execute(
                        "SELECT * FROM attempts WHERE webhook_id = ? ORDER BY rowid",
                        (webhook_id,),
                    )
                ]
        return webhook

    def attempts(self, webhook_id: str) -> list[AttemptRecord]:
        with self._lock:
            return [
                _row_to_attempt(a)
                for a in self._db.execute(
                    "SELECT * FROM attempts WHERE webhook_id = ? ORDER BY rowid", (webhook_id,)
                )
            ]

    @staticmethod
    def _where(flt: HistoryFilter) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("type", flt.type),
            ("sync_name", flt.sync_name),
            ("connection_id", flt.connection_id),
            ("env", flt.env),
            ("direction", flt.direction),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if flt.signature is not None:
            clauses.append("direction = 'received' AND json_extract(meta, '$.signature') = ?")
            args.append(flt.signature)
        if flt.failed:
            clauses.append("status IN (?, ?)")
            args.extend([FAILED, INTERRUPTED])
        include = flt.include_negative if flt.include_negative is not None else not flt.failed
        if not include:
            clauses.append("negative = 0")
        if flt.since:
            clauses.append("created_at >= ?")
            args.append(flt.since)
        if flt.until:
            clauses.append("created_at < ?")
            args.append(flt.until)
        return clauses, args

    def list(self, flt: HistoryFilter, with_attempts: bool = False) -> list[WebhookRecord]:
        clauses, args = self._where(flt)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        limit = "" if flt.limit is None else f"LIMIT {int(flt.limit)}"
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks {where} "
                f"ORDER BY created_at DESC, rowid DESC {limit}",
                args,
            ).fetchall()
        webhooks = [_row_to_webhook(r) for r in rows]
        if with_attempts:
            for webhook in webhooks:
                webhook.attempts = self.attempts(webhook.id)
        return webhooks

    def by_row(
        self,
        flt: HistoryFilter,
        before: int | None = None,
        after: int | None = None,
    ) -> NumberedWebhooks:
        """Webhooks with their row numbers, in the order they were stored: newest first
        before row `before`, or oldest first after row `after`. A row number is unique
        and only grows, so paging on it never repeats or skips a row while others arrive."""
        clauses, args = self._where(flt)
        if before is not None:
            clauses.append("rowid < ?")
            args.append(before)
        if after is not None:
            clauses.append("rowid > ?")
            args.append(after)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "ASC" if after is not None else "DESC"
        limit = "" if flt.limit is None else f"LIMIT {int(flt.limit)}"
        with self._lock:
            rows = self._db.execute(
                f"SELECT rowid, {_WEBHOOK_COLUMNS} FROM webhooks {where} "
                f"ORDER BY rowid {order} {limit}",
                args,
            ).fetchall()
        return [(int(r[0]), _row_to_webhook(r)) for r in rows]

    def generation(self) -> int:
        """How many times rows were cleared or pruned (see migration 004)."""
        with self.reading() as db:
            row = db.execute(
                "SELECT value FROM counters WHERE name = 'webhooks_cleared'"
            ).fetchone()
        return int(row[0]) if row else 0

    def count(self, up_to: int | None = None) -> int:
        """How many webhooks are stored (with `up_to`: in rows up to that row number)."""
        with self._lock:
            if up_to is None:
                return int(self._db.execute("SELECT count(*) FROM webhooks").fetchone()[0])
            sql = "SELECT count(*) FROM webhooks WHERE rowid <= ?"
            return int(self._db.execute(sql, (up_to,)).fetchone()[0])


def _next_generation(db: sqlite3.Connection) -> None:
    db.execute("UPDATE counters SET value = value + 1 WHERE name = 'webhooks_cleared'")


def _storable(text: str | None) -> str | None:
    """A text column as SQLite can take it: a lone surrogate (valid in JSON, not in
    UTF-8) is kept as its `\\udXXX` escape instead of failing the whole transaction."""
    return escape_surrogates(text) if text is not None and not text.isascii() else text


def _attempt_values(webhook_id: str, a: AttemptRecord) -> tuple[Any, ...]:
    return (
        webhook_id,
        _storable(a.target),
        a.number,
        _storable(a.started_at),
        a.status_code,
        a.latency_ms,
        a.outcome,
        a.error_class,
        _storable(a.error),
        int(a.will_retry),
        a.wait_s,
        dumps(a.response_headers),
        a.response_body[:RESPONSE_BODY_CAP],
        int(a.response_truncated or len(a.response_body) > RESPONSE_BODY_CAP),
        dumps(a.redirects) if a.redirects else None,
        _storable(a.note),
    )


def _webhook_values(w: WebhookRecord) -> tuple[Any, ...]:
    if w.direction not in ("sent", "received"):
        raise UsageError(f"invalid direction {w.direction!r}")
    # JSON columns keep a lone surrogate as its escape (sql.dumps); plain text columns
    # taken from a received or imported body are made storable here.
    return (
        w.id,
        w.created_at,
        w.direction,
        _storable(w.env),
        _storable(w.type),
        _storable(w.sync_name),
        _storable(w.model),
        _storable(w.connection_id),
        _storable(w.provider_config_key),
        dumps(w.targets) if w.targets else "[]",
        dumps(w.headers),
        w.body,
        w.status,
        w.attempt_count,
        w.last_status_code,
        w.latency_ms,
        w.replay_of,
        dumps(w.meta),
        int(w.negative),
    )
