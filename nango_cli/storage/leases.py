"""`tunnel`'s leases: a connection's webhook_url_override it set in Nango, with the value
that was there before (written before the change; ended once it is put back or left)."""

from __future__ import annotations

import os
from typing import NamedTuple

from nango_cli.storage.database import Database
from nango_cli.support.timefmt import now_timestamp


class Lease(NamedTuple):
    id: int
    env: str
    host: str
    connection_id: str
    integration: str
    previous: str | None
    value_set: str
    pid: int
    started_at: str


_COLUMNS = "id, env, host, connection_id, integration, previous, value_set, pid, started_at"


def installation_id(store: Database) -> str:
    """This state directory's id (it tags the overrides its tunnels set)."""
    with store.reading() as db:
        row = db.execute("SELECT id FROM installation LIMIT 1").fetchone()
    return str(row[0])


def open_lease(
    store: Database,
    env: str,
    host: str,
    connection_id: str,
    integration: str,
    previous: str | None,
    value_set: str,
) -> Lease:
    started = now_timestamp()
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO tunnel_leases (env, host, connection_id, integration, previous, "
            "value_set, pid, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (env, host, connection_id, integration, previous, value_set, os.getpid(), started),
        )
        lease_id = int(cursor.lastrowid or 0)
    return Lease(
        lease_id, env, host, connection_id, integration, previous, value_set, os.getpid(), started
    )


def open_leases(store: Database) -> list[Lease]:
    """The leases not ended yet, oldest first."""
    with store.reading() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM tunnel_leases WHERE ended_at IS NULL ORDER BY id"
        ).fetchall()
    return [Lease(*row) for row in rows]


def end_lease(store: Database, lease_id: int, outcome: str) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE tunnel_leases SET ended_at = ?, outcome = ? WHERE id = ?",
            (now_timestamp(), outcome, lease_id),
        )
