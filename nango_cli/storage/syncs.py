"""What the API stand-in knows of syncs: which exist for an integration (those the
store has seen a webhook for), their schedules (paused or running), and what their
last run announced (GET /sync/status)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from nango_cli.storage.database import Database
from nango_cli.support.timefmt import now_timestamp


def seen_syncs(store: Database, provider_config_key: str) -> set[str]:
    """Syncs a sync webhook of this integration named (fired, or received by `listen`)."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT DISTINCT sync_name FROM webhooks WHERE type = 'sync' "
            "AND provider_config_key = ? AND sync_name IS NOT NULL",
            (provider_config_key,),
        ).fetchall()
    return {str(row[0]) for row in rows}


def set_paused(
    store: Database,
    connection_ids: list[str],
    provider_config_key: str,
    names: list[str],
    paused: bool,
) -> None:
    stamp = now_timestamp()
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO sync_schedules (connection_id, provider_config_key, sync_name, paused, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection_id, "
            "provider_config_key, sync_name) DO UPDATE SET paused = excluded.paused, "
            "updated_at = excluded.updated_at",
            [
                (c, provider_config_key, n, int(paused), stamp)
                for c in connection_ids
                for n in names
            ],
        )


def paused(store: Database, connection_id: str, provider_config_key: str, name: str) -> bool:
    with store.reading() as db:
        row = db.execute(
            "SELECT paused FROM sync_schedules WHERE connection_id = ? AND "
            "provider_config_key = ? AND sync_name = ?",
            (connection_id, provider_config_key, name),
        ).fetchone()
    return bool(row and row[0])


class LastRun(NamedTuple):
    finished_at: str | None
    results: dict[str, dict[str, int]]
    failed: bool


def last_run(store: Database, connection_id: str, provider_config_key: str, name: str) -> LastRun:
    """What the newest sync webhooks of this sync announced, per model."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT created_at, model, body FROM webhooks WHERE type = 'sync' AND "
            "connection_id = ? AND provider_config_key = ? AND sync_name = ? "
            "ORDER BY created_at DESC LIMIT 50",
            (connection_id, provider_config_key, name),
        ).fetchall()
    results: dict[str, dict[str, int]] = {}
    finished = rows[0][0] if rows else None
    failed = False
    for index, (_, model, body) in enumerate(rows):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(parsed, dict):
            continue
        failed = failed or (index == 0 and parsed.get("success") is False)
        counts = parsed.get("responseResults")
        if model and model not in results and isinstance(counts, dict):
            results[str(model)] = {
                k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)
            }
    return LastRun(finished, results, failed)


def record_counts(store: Database, connection_id: str, provider_config_key: str) -> dict[str, Any]:
    """Live records per model of a connection (GET /sync/status `recordCount`)."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT model, COUNT(*) FROM records WHERE connection_id = ? AND "
            "provider_config_key = ? AND deleted_at IS NULL GROUP BY model",
            (connection_id, provider_config_key),
        ).fetchall()
    return {str(model): int(count) for model, count in rows}


def seen_models(store: Database, provider_config_key: str, name: str) -> list[str]:
    """The models a sync's webhooks named, first seen first."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT model FROM webhooks WHERE type = 'sync' AND provider_config_key = ? AND "
            "sync_name = ? AND model IS NOT NULL GROUP BY model ORDER BY MIN(created_at)",
            (provider_config_key, name),
        ).fetchall()
    return [str(row[0]) for row in rows]
