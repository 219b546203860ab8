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
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nango_cli import paths
from nango_cli.errors import ConfigError, NotFoundError, UsageError

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


# Ordered, named, append-only: a released migration is never edited.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", _m001_initial),
]


# Ids must be unique, not secret: a seeded PRNG is ~100x cheaper than a urandom call per id,
# which matters at thousands of webhooks a second. A collision is retried on insert.
_ids = random.Random(os.urandom(16))


def new_id() -> str:
    return f"{_ids.getrandbits(48):012x}"


@dataclass
class AttemptRecord:
    target: str
    number: int
    started_at: str
    outcome: str  # "success" | "http_error" | "network_error"
    status_code: int | None = None
    latency_ms: float | None = None
    error_class: str | None = None
    error: str | None = None
    will_retry: bool = False
    wait_s: float | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    response_truncated: bool = False

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
        }


_WEBHOOK_COLUMNS = (
    "id, created_at, direction, env, type, sync_name, model, connection_id, "
    "provider_config_key, targets, headers, body, status, attempt_count, "
    "last_status_code, latency_ms, replay_of, meta"
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
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class HistoryFilter:
    type: str | None = None
    sync_name: str | None = None
    connection_id: str | None = None
    env: str | None = None
    direction: str | None = None
    failed: bool = False
    since: str | None = None
    until: str | None = None
    limit: int | None = 50


class Store:
    """One SQLite connection shared by the threads of one process (guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        paths.ensure_private_dir(path.parent)
        try:
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"cannot open the history store {path}: {exc}",
                hint="move the file away to start a new history (nothing else is touched)",
            ) from None
        with suppress(OSError):
            path.chmod(0o600)

    @classmethod
    def open_default(cls) -> Store:
        return cls(paths.history_db())

    def close(self) -> None:
        with self._lock:
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
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

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

    def record_webhooks(self, webhooks: Sequence[WebhookRecord]) -> None:
        """Insert in one transaction; on an id collision, new ids are drawn and it is retried."""
        for _ in range(5):
            try:
                with self._write() as db:
                    db.executemany(
                        f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}, owner_pid) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(*_webhook_values(w), os.getpid()) for w in webhooks],
                    )
                return
            except sqlite3.IntegrityError:
                for webhook in webhooks:
                    webhook.id = new_id()
        raise sqlite3.IntegrityError("could not find unused webhook ids")

    def record_attempt(self, webhook_id: str, attempt: AttemptRecord) -> None:
        self.record_attempts([(webhook_id, attempt)])

    def record_attempts(self, items: Sequence[tuple[str, AttemptRecord]]) -> None:
        """Attempts (capped response bodies) and their webhooks' counters, in one transaction."""
        with self._write() as db:
            db.executemany(
                "INSERT INTO attempts (webhook_id, target, number, started_at, status_code, "
                "latency_ms, outcome, error_class, error, will_retry, wait_s, response_headers, "
                "response_body, response_truncated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_attempt_values(webhook_id, a) for webhook_id, a in items],
            )
            db.executemany(
                "UPDATE webhooks SET attempt_count = attempt_count + 1, last_status_code = ?, "
                "latency_ms = ? WHERE id = ?",
                [(a.status_code, a.latency_ms, webhook_id) for webhook_id, a in items],
            )

    def import_webhooks(self, webhooks: Sequence[WebhookRecord]) -> int:
        """Insert webhooks (with their attempts) not already stored; returns how many were new."""
        added = 0
        with self._write() as db:
            for w in webhooks:
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO webhooks ({_WEBHOOK_COLUMNS}, owner_pid) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    _webhook_values(w),
                )
                if cursor.rowcount == 0:
                    continue
                added += 1
                db.executemany(
                    "INSERT OR IGNORE INTO attempts (webhook_id, target, number, started_at, "
                    "status_code, latency_ms, outcome, error_class, error, will_retry, wait_s, "
                    "response_headers, response_body, response_truncated) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [_attempt_values(w.id, a) for a in w.attempts],
                )
        return added

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
        dead = [r["id"] for r in rows if r["owner_pid"] is None or not _pid_alive(r["owner_pid"])]
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

    def list(self, flt: HistoryFilter, with_attempts: bool = False) -> list[WebhookRecord]:
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
        if flt.failed:
            clauses.append("status IN (?, ?)")
            args.extend([FAILED, INTERRUPTED])
        if flt.since:
            clauses.append("created_at >= ?")
            args.append(flt.since)
        if flt.until:
            clauses.append("created_at < ?")
            args.append(flt.until)
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

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM webhooks").fetchone()[0])


def _attempt_values(webhook_id: str, a: AttemptRecord) -> tuple[Any, ...]:
    return (
        webhook_id,
        a.target,
        a.number,
        a.started_at,
        a.status_code,
        a.latency_ms,
        a.outcome,
        a.error_class,
        a.error,
        int(a.will_retry),
        a.wait_s,
        json.dumps(a.response_headers),
        a.response_body[:RESPONSE_BODY_CAP],
        int(a.response_truncated or len(a.response_body) > RESPONSE_BODY_CAP),
    )


def _webhook_values(w: WebhookRecord) -> tuple[Any, ...]:
    if w.direction not in ("sent", "received"):
        raise UsageError(f"invalid direction {w.direction!r}")
    return (
        w.id,
        w.created_at,
        w.direction,
        w.env,
        w.type,
        w.sync_name,
        w.model,
        w.connection_id,
        w.provider_config_key,
        json.dumps(w.targets) if w.targets else "[]",
        json.dumps(w.headers),
        w.body,
        w.status,
        w.attempt_count,
        w.last_status_code,
        w.latency_ms,
        w.replay_of,
        json.dumps(w.meta),
    )
