"""The connections auth webhooks created, changed and deleted (GET /connections)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from nango_cli.delivery.history_rows import new_id
from nango_cli.storage.database import Database
from nango_cli.storage.sql import dumps, where_equal
from nango_cli.support.timefmt import now_timestamp, shift

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
        credentials["expires_at"] = shift(created_at, timedelta(hours=1))
        credentials["raw"] = {
            "access_token": credentials["access_token"],
            "token_type": "bearer",
            "expires_in": 3600,
        }
    else:
        credentials.setdefault("raw", {})
    return credentials


def apply_auth(store: Database, body: dict[str, Any], webhook_id: str | None = None) -> None:
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
                    (dumps(errors), stamp, connection_id, key),
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
                dumps(end_user) if isinstance(end_user, dict) else None,
                dumps(body.get("tags") or {}),
            ),
        )


def ensure_connection(store: Database, connection_id: str, provider_config_key: str) -> None:
    """A connection a sync ran for exists, even without an auth webhook fired for it."""
    with store.transaction() as db:
        insert_connection(db, connection_id, provider_config_key)


def insert_connection(db: Any, connection_id: str, provider_config_key: str) -> None:
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
    webhook_url_override: str | None = None

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
            "webhook_url_override": self.webhook_url_override,
            "errors": self.errors,
            "end_user": self.api_end_user(),
            "tags": self.tags,
            "credentials": credentials_for(self.auth_mode, self.created_at),
        }


_CONNECTION_COLUMNS = (
    "id, connection_id, provider_config_key, provider, auth_mode, created_at, updated_at, "
    "end_user, tags, metadata, errors, webhook_url_override"
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
        row[11],
    )


# A statement that is one row when the connection named by the parameters
# :connection_id and :provider_config_key is live: for a query that must say so in the
# same read (storage/record_pages.py's page).
LIVE_CONNECTION = (
    "SELECT 1 FROM connections WHERE connection_id = :connection_id "
    "AND provider_config_key = :provider_config_key AND deleted_at IS NULL"
)


def get_connection(
    store: Database, connection_id: str, provider_config_key: str | None = None
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
    store: Database,
    connection_id: str | None = None,
    integration: str | None = None,
    end_user_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Connection]:
    where, params = where_equal(connection_id=connection_id, provider_config_key=integration)
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


def known_integration(store: Database, provider_config_key: str) -> bool:
    with store.reading() as db:
        row = db.execute(
            "SELECT 1 FROM connections WHERE provider_config_key = ? LIMIT 1",
            (provider_config_key,),
        ).fetchone()
    return row is not None


def delete_connection(store: Database, connection_id: str, provider_config_key: str) -> bool:
    """DELETE /connections/{id}: the connection, its records and its sync schedules are
    gone, as Nango's connectionService.deleteConnection leaves them. False when there was
    no such live connection."""
    stamp = now_timestamp()
    with store.transaction() as db:
        done = db.execute(
            "UPDATE connections SET deleted_at = ?, updated_at = ?, webhook_url_override = NULL "
            "WHERE connection_id = ? AND provider_config_key = ? AND deleted_at IS NULL",
            (stamp, stamp, connection_id, provider_config_key),
        ).rowcount
        if not done:
            return False
        for table in ("records", "sync_schedules"):
            db.execute(
                f"DELETE FROM {table} WHERE connection_id = ? AND provider_config_key = ?",
                (connection_id, provider_config_key),
            )
    return True


def set_webhook_url_override(
    store: Database, connection_id: str, provider_config_key: str, url: str | None
) -> None:
    """PATCH /connections/{id} `webhook_url_override` ("" arrives here as None: cleared)."""
    with store.transaction() as db:
        db.execute(
            "UPDATE connections SET webhook_url_override = ?, updated_at = ? "
            "WHERE connection_id = ? AND provider_config_key = ? AND deleted_at IS NULL",
            (url, now_timestamp(), connection_id, provider_config_key),
        )


def set_tags(
    store: Database, connection_id: str, provider_config_key: str, tags: dict[str, str]
) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE connections SET tags = ?, updated_at = ? "
            "WHERE connection_id = ? AND provider_config_key = ? AND deleted_at IS NULL",
            (dumps(tags), now_timestamp(), connection_id, provider_config_key),
        )


def webhook_url_override(store: Database, connection_id: str) -> str | None:
    """Where Nango sends this connection's webhooks instead of the environment's URLs
    (a connection id names one connection per integration; the newest override wins)."""
    with store.reading() as db:
        row = db.execute(
            "SELECT webhook_url_override FROM connections WHERE connection_id = ? "
            "AND deleted_at IS NULL AND webhook_url_override IS NOT NULL "
            "ORDER BY updated_at DESC LIMIT 1",
            (connection_id,),
        ).fetchone()
    return str(row[0]) if row else None
