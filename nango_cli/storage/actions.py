"""Async action results (GET /action/{id})."""

from __future__ import annotations

from typing import Any

from nango_cli.storage.database import Database
from nango_cli.storage.sql import dumps
from nango_cli.support.timefmt import now_timestamp

DEFAULT_ACTION_RESULT: dict[str, Any] = {"success": True, "message": "done (nango-hooks sample)"}


def store_action_result(
    store: Database, body: dict[str, Any], result: Any, webhook_id: str | None = None
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
                dumps(DEFAULT_ACTION_RESULT if result is None else result),
                now_timestamp(),
                webhook_id,
            ),
        )


def action_result(store: Database, action_id: str) -> bytes | None:
    with store.reading() as db:
        row = db.execute("SELECT result FROM action_results WHERE id = ?", (action_id,)).fetchone()
    return row[0].encode() if row else None
