"""The store's schema, as an ordered registry of named migrations.

Each migration is a function registered with `@migration`, in order; its name (the
function's, without the leading `m`) is recorded in the `migrations` table when it
has run, in the same transaction. Append-only: a released migration is never edited.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    """Register `function` as the next migration (named `m001_initial` -> `001_initial`)."""
    MIGRATIONS.append((function.__name__.removeprefix("m"), function))
    return function


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the surrounding BEGIN IMMEDIATE; run statement by statement
    # so a migration and its record in `migrations` commit together or not at all.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
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


@migration
def m002_redirects_and_negatives(db: sqlite3.Connection) -> None:
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


@migration
def m003_api_state(db: sqlite3.Connection) -> None:
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


@migration
def m004_generations(db: sqlite3.Connection) -> None:
    # Row numbers of deleted rows can be given again: `history clear` and `prune` count
    # a generation, so a reader that pages by row number (the inspector's live feed)
    # knows to start over.
    _run_script(
        db,
        """
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO counters VALUES ('webhooks_cleared', 0)
        """,
    )


@migration
def m005_api_faults(db: sqlite3.Connection) -> None:
    # The fault the API played on a request (JSON: {"status": 500}, {"latency": 2.0},
    # {"short_pages": 2}), so `scenario record` can play it again.
    db.execute("ALTER TABLE api_requests ADD COLUMN fault TEXT")


@migration
def m006_connection_state(db: sqlite3.Connection) -> None:
    # What a backend's API calls change, as Nango keeps it: a connection's
    # webhook_url_override (PATCH /connections/{id}) and paused sync schedules
    # (POST /sync/pause, /sync/start).
    _run_script(
        db,
        """
        ALTER TABLE connections ADD COLUMN webhook_url_override TEXT;
        CREATE TABLE sync_schedules (
            connection_id TEXT NOT NULL,
            provider_config_key TEXT NOT NULL,
            sync_name TEXT NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (connection_id, provider_config_key, sync_name)
        )
        """,
    )


@migration
def m007_tunnel_leases(db: sqlite3.Connection) -> None:
    # `tunnel`: what it set on a connection in Nango and what was there before, written
    # before the change, so a crash leaves what `tunnel --restore` needs; and the
    # installation's id, which tags the overrides it sets.
    _run_script(
        db,
        """
        CREATE TABLE tunnel_leases (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            host TEXT NOT NULL,
            connection_id TEXT NOT NULL,
            integration TEXT NOT NULL,
            previous TEXT,
            value_set TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT
        );
        CREATE TABLE installation (id TEXT NOT NULL);
        INSERT INTO installation (id) VALUES (lower(hex(randomblob(8))))
        """,
    )
