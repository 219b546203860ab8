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
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import random

import nango_cli
from nango_cli import files, paths
from nango_cli.errors import ConfigError, NotFoundError, UsageError
from nango_cli.processes import pid_alive
from nango_cli.text import escape_surrogates

RESPONSE_BODY_CAP = 64 * 1024
BUSY_TIMEOUT_MS = 30_000

# Statuses of a webhook row.
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"
INTERRUPTED = "interrupted"
RECEIVED = "received"
DRY_RUN = "dry-run"


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the surrounding BEGIN IMMEDIATE; run statement by statement
    # so a migration and its record in `migrations` commit together or not at all.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m001_initial(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            direction TEXT NOT NULL,
            env TEXT,
            type TEXT,
            sync_name TEXT,
            model TEXT,
            connection_id TEXT,
            provider_config_key TEXT,
            targets TEXT NOT NULL DEFAULT '[]',
            headers TEXT NOT NULL DEFAULT '{}',
            body BLOB NOT NULL,
            status TEXT NOT NULL,
            attempt_count INTEGER NOT NULL DEFAULT 0,
            last_status_code INTEGER,
            latency_ms REAL,
            replay_of TEXT,
            owner_pid INTEGER,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE attempts (
            webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
            target TEXT NOT NULL,
            number INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            status_code INTEGER,
            latency_ms REAL,
            outcome TEXT NOT NULL,
            error_class TEXT,
            error TEXT,
            will_retry INTEGER NOT NULL DEFAULT 0,
            wait_s REAL,
            response_headers TEXT,
            response_body BLOB,
            response_truncated INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (webhook_id, target, number)
        );
        CREATE INDEX webhooks_created ON webhooks (created_at);
        CREATE INDEX webhooks_sync_created ON webhooks (sync_name, created_at);
        CREATE INDEX webhooks_connection_created ON webhooks (connection_id, created_at);
        CREATE INDEX webhooks_type_created ON webhooks (type, created_at);
        CREATE INDEX webhooks_status ON webhooks (status);
        """,
    )


def _m002_redirects_and_negatives(db: sqlite3.Connection) -> None:
    # The hops an attempt followed, and what the sender noticed on the way (a redirect
    # to another host, the circuit breaker opening); and webhooks sent to be rejected
    # (a bad or missing signature), which `replay --failed` leaves alone.
    _run_script(
        db,
        """
        ALTER TABLE attempts ADD COLUMN redirects TEXT;
        ALTER TABLE attempts ADD COLUMN note TEXT;
        ALTER TABLE webhooks ADD COLUMN negative INTEGER NOT NULL DEFAULT 0
        """,
    )


def _m003_api_state(db: sqlite3.Connection) -> None:
    # What `nango-hooks api` serves: the records sync webhooks announced, the
    # connections auth webhooks created, async action results; and the API's requests.
    # `seq` orders records by modification (a cursor is a position in that order);
    # `wire` is the record as GET /records returns it, metadata included, made when the
    # record is written so a page is one query and one join.
    _run_script(
        db,
        """
        CREATE TABLE records (
            connection_id TEXT NOT NULL,
            provider_config_key TEXT NOT NULL,
            model TEXT NOT NULL,
            variant TEXT NOT NULL,
            record_id TEXT NOT NULL,
            data TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_modified_at TEXT NOT NULL,
            last_action TEXT NOT NULL,
            deleted_at TEXT,
            pruned_at TEXT,
            seq INTEGER NOT NULL,
            webhook_id TEXT,
            wire TEXT,
            PRIMARY KEY (connection_id, provider_config_key, model, variant, record_id)
        );
        CREATE INDEX records_stale ON records (seq) WHERE wire IS NULL;
        CREATE UNIQUE INDEX records_order
            ON records (connection_id, provider_config_key, model, variant, seq);
        CREATE UNIQUE INDEX records_seq ON records (seq);
        CREATE TABLE connections (
            id INTEGER PRIMARY KEY,
            connection_id TEXT NOT NULL,
            provider_config_key TEXT NOT NULL,
            provider TEXT NOT NULL,
            auth_mode TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            end_user TEXT,
            tags TEXT NOT NULL DEFAULT '{}',
            metadata TEXT,
            errors TEXT NOT NULL DEFAULT '[]',
            deleted_at TEXT,
            UNIQUE (connection_id, provider_config_key)
        );
        CREATE TABLE action_results (
            id TEXT PRIMARY KEY,
            connection_id TEXT NOT NULL,
            provider_config_key TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL,
            webhook_id TEXT
        );
        CREATE TABLE api_requests (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            query TEXT NOT NULL DEFAULT '{}',
            status INTEGER NOT NULL,
            connection_id TEXT,
            provider_config_key TEXT,
            model TEXT,
            record_count INTEGER,
            next_cursor TEXT,
            error_code TEXT,
            body TEXT,
            duration_ms REAL
        );
        CREATE INDEX api_requests_created ON api_requests (created_at)
        """,
    )


# Ordered, named, append-only: a released migration is never edited.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", _m001_initial),
    ("002_redirects_and_negatives", _m002_redirects_and_negatives),
    ("003_api_state", _m003_api_state),
]

Outcome = Literal["success", "http_error", "network_error"]
ErrorClass = Literal[
    "reset",
    "timeout",
    "aborted",
    "refused",
    "unreachable",
    "dns",
    "tls",
    "protocol",
    "redirects",
    "url",
    "proxy",
    "network",
    "circuit_breaker_open",
]


_left_open: list[sqlite3.Connection] = []

# Ids must be unique, not secret: a seeded PRNG is ~100x cheaper than a urandom call per id,
# which matters at thousands of webhooks a second. A collision is retried on insert.
_ids: random.Random | None = None


def new_id() -> str:
    global _ids
    if _ids is None:
        import random

        _ids = random.Random(os.urandom(16))
    return f"{_ids.getrandbits(48):012x}"


@dataclass
class AttemptRecord:
    target: str
    number: int
    started_at: str
    outcome: Outcome
    status_code: int | None = None
    latency_ms: float | None = None
    error_class: ErrorClass | None = None
    error: str | None = None
    will_retry: bool = False
    wait_s: float | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    response_truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    note: str | None = None

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target,
            "number": self.number,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "error_class": self.error_class,
            "error": self.error,
            "will_retry": self.will_retry,
            "wait_s": self.wait_s,
            "redirects": self.redirects,
            "note": self.note,
        }
        if include_body:
            data["response_headers"] = self.response_headers
            data["response_body"] = self.response_body.decode("utf-8", "replace")
            data["response_truncated"] = self.response_truncated
        return data


@dataclass
class WebhookRecord:
    id: str
    created_at: str
    direction: str
    env: str | None
    type: str | None
    body: bytes
    headers: dict[str, str]
    status: str
    sync_name: str | None = None
    model: str | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None
    targets: list[str] = field(default_factory=list)
    attempt_count: int = 0
    last_status_code: int | None = None
    latency_ms: float | None = None
    replay_of: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    negative: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "direction": self.direction,
            "env": self.env,
            "type": self.type,
            "sync_name": self.sync_name,
            "model": self.model,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "targets": self.targets,
            "status": self.status,
            "attempt_count": self.attempt_count,
            "last_status_code": self.last_status_code,
            "latency_ms": self.latency_ms,
            "replay_of": self.replay_of,
            "negative": self.negative,
        }


_ATTEMPT_INSERT = (
    "{verb} INTO attempts (webhook_id, target, number, started_at, status_code, latency_ms, "
    "outcome, error_class, error, will_retry, wait_s, response_headers, response_body, "
    "response_truncated, redirects, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
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
    include_negative: bool = True
    since: str | None = None
    until: str | None = None
    limit: int | None = 50


class Store:
    """One SQLite connection shared by the threads of one process (guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        # Risks about a directory nango-hooks did not create, for the CLI to show.
        self.warnings = files.ensure_state_dir(path.parent)
        try:
            # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files
            # the database file's mode, so they are never readable by others either.
            files.create_private(path)
            for suffix in ("-wal", "-shm"):
                sidecar = path.with_name(path.name + suffix)
                if sidecar.exists():
                    files.create_private(sidecar)
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(
                f"cannot open the history store {path}: {exc}",
                hint="move the file away to start a new history (nothing else is touched)",
            ) from None

    @classmethod
    def open_default(cls) -> Store:
        return cls(paths.history_db())

    def close(self) -> None:
        with self._lock:
            if nango_cli.FAST_EXIT:
                # The process is about to leave with os._exit. Closing the last
                # connection would make SQLite checkpoint the WAL into the database
                # with an fsync (20-50 ms, a fifth of a `fire`); every transaction is
                # already committed to the WAL, which the next process reads and
                # SQLite's auto-checkpoint folds in. So the connection is dropped
                # with the process instead.
                _left_open.append(self._db)
                return
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                # SQLite rolls some failures back itself (a full disk): rolling back again
                # would raise and hide the real error.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT) for modules with tables of
        their own in this store (nango_cli/records.py)."""
        with self._write() as db:
            yield db

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, under the store's lock."""
        with self._lock:
            yield self._db

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            for name, migration in MIGRATIONS:
                if name in done:
                    continue
                migration(db)
                db.execute(
                    "INSERT INTO migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (name,),
                )

    def applied_migrations(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM migrations ORDER BY name")]

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
                        self._insert_attempts(db, attempts)
                return
            except sqlite3.IntegrityError:
                renamed = {}
                for webhook in webhooks:
                    old_id, webhook.id = webhook.id, new_id()
                    renamed[old_id] = webhook.id
                attempts = [(renamed.get(wid, wid), a) for wid, a in attempts]
        raise sqlite3.IntegrityError("could not find unused webhook ids")

    def record_attempt(self, webhook_id: str, attempt: AttemptRecord) -> None:
        self.record_attempts([(webhook_id, attempt)])

    def record_attempts(self, items: Sequence[tuple[str, AttemptRecord]]) -> None:
        """Attempts (capped response bodies) and their webhooks' counters, in one transaction."""
        with self._write() as db:
            self._insert_attempts(db, items)

    @staticmethod
    def _insert_attempts(
        db: sqlite3.Connection, items: Sequence[tuple[str, AttemptRecord]]
    ) -> None:
        db.executemany(
            _ATTEMPT_INSERT.format(verb="INSERT"),
            [_attempt_values(webhook_id, a) for webhook_id, a in items],
        )
        db.executemany(
            "UPDATE webhooks SET attempt_count = attempt_count + 1, last_status_code = ?, "
            "latency_ms = ? WHERE id = ?",
            [(a.status_code, a.latency_ms, webhook_id) for webhook_id, a in items],
        )

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
            return db.execute("DELETE FROM webhooks WHERE created_at < ?", (before,)).rowcount

    def clear(self) -> int:
        with self._write() as db:
            db.execute("DELETE FROM attempts")
            return db.execute("DELETE FROM webhooks").rowcount

    def finish_webhook(self, webhook_id: str, status: str) -> None:
        self.finish_webhooks([(webhook_id, status)])

    def finish_webhooks(self, items: Sequence[tuple[str, str]]) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE webhooks SET status = ?, owner_pid = NULL WHERE id = ?",
                [(status, webhook_id) for webhook_id, status in items],
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
        if not flt.include_negative:
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

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM webhooks").fetchone()[0])


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
        json.dumps(a.response_headers),
        a.response_body[:RESPONSE_BODY_CAP],
        int(a.response_truncated or len(a.response_body) > RESPONSE_BODY_CAP),
        json.dumps(a.redirects) if a.redirects else None,
        _storable(a.note),
    )


def _webhook_values(w: WebhookRecord) -> tuple[Any, ...]:
    if w.direction not in ("sent", "received"):
        raise UsageError(f"invalid direction {w.direction!r}")
    # JSON columns are written with ASCII escapes, so only plain text columns can hold
    # what UTF-8 cannot: those taken from a received or imported body.
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
        json.dumps(w.targets) if w.targets else "[]",
        json.dumps(w.headers),
        w.body,
        w.status,
        w.attempt_count,
        w.last_status_code,
        w.latency_ms,
        w.replay_of,
        json.dumps(w.meta),
        int(w.negative),
    )
