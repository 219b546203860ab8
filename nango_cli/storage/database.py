"""Opening the store: one SQLite connection per process, shared by its threads.

SQLite in WAL mode with a busy timeout, so several `nango-hooks` processes can
share one file; every write is one `BEGIN IMMEDIATE` transaction under the
connection's lock. The file is created 0600, and migrations (storage/migrations.py)
bring it to the current schema when it is opened.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from nango_cli.errors import ConfigError
from nango_cli.support import files

BUSY_TIMEOUT_MS = 30_000
# The last migration in storage/migrations.py (tests/test_store.py holds them equal): a
# store that has it needs none, and opening it loads no migration.
CURRENT_SCHEMA = "007_tunnel_leases"

_left_open: list[sqlite3.Connection] = []


def _while_busy(action: Callable[[], object]) -> None:
    """Run `action`, again while SQLite says the database is locked or busy (with a
    growing pause), until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class Database:
    """One SQLite connection shared by the threads of one process (guarded by a lock)."""

    def __init__(self, path: Path, fast_exit: bool = False) -> None:
        """Open (and create, 0600, and migrate) the database at `path`. `fast_exit`: the
        process leaves with os._exit after using it, so `close` leaves the connection to
        the exit (see there)."""
        self.path = path
        self.fast_exit = fast_exit
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
            # Switching a new file to WAL does not consult SQLite's busy handler: when
            # several processes open a fresh store at once (`listen` started beside
            # `ui`), the switch is retried while another holds the lock.
            _while_busy(lambda: self._db.execute("PRAGMA journal_mode = WAL"))
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            _while_busy(self._migrate)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(
                f"cannot open the history store {path}: {exc}",
                hint="move the file away to start a new history (nothing else is touched)",
            ) from None

    def close(self) -> None:
        with self._lock:
            if self.fast_exit:
                # The process is about to leave with os._exit. Closing the last
                # connection would make SQLite checkpoint the WAL into the database
                # with an fsync (20-50 ms, a fifth of a `fire`); every transaction is
                # already committed to the WAL, which the next process reads and
                # SQLite's auto-checkpoint folds in. So the connection is dropped
                # with the process instead.
                _left_open.append(self._db)
                return
            self._db.close()

    def __enter__(self) -> Self:
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
        their own in this store (storage/records.py, connections.py, …)."""
        with self._write() as db:
            yield db

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, under the store's lock."""
        with self._lock:
            yield self._db

    def _migrate(self) -> None:
        # Every command opens the store, and it is nearly always current: one read says
        # so, without loading the migrations or taking the write lock.
        # Migrations are numbered from 001: a current store has them all.
        try:
            count, latest = self._db.execute(
                "SELECT count(*), COALESCE(max(name = ?), 0) FROM migrations", (CURRENT_SCHEMA,)
            ).fetchone()
        except sqlite3.OperationalError:  # a new store: no migrations table yet
            count, latest = 0, 0
        if latest and count == int(CURRENT_SCHEMA[:3]):
            return
        from nango_cli.storage.migrations import MIGRATIONS

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
