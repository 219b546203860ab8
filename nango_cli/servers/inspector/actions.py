"""What `nango-hooks ui`'s buttons do: replay a stored webhook (as it was, or edited
and re-signed) and fire a new one from the page's form, through the same services the
commands use (app/replay.py, app/fire.py). No HTTP here: server.py serves it.
"""

from __future__ import annotations

from typing import Any

from nango_cli.app.settings import Settings
from nango_cli.errors import UsageError
from nango_cli.storage.webhooks import Store


def replay(
    store: Store,
    settings: Settings,
    webhook_id: str,
    url: str | None = None,
    edited_body: bytes | None = None,
) -> list[dict[str, Any]]:
    """Send a stored webhook again: unchanged, or with `edited_body` (re-signed with the
    environment's key, sent byte for byte as typed), to `url` or the environment's."""
    from nango_cli.app import replay as core

    source = core.from_record(store.get(webhook_id))
    resign = edited_body is not None
    if edited_body is not None:
        source.body = edited_body
    plan = core.plan([source], settings, [url] if url else None, resign)
    sent = core.send(plan, store)
    return [s.to_dict() for s in sent]


def fire(store: Store, settings: Settings, form: dict[str, Any]) -> dict[str, Any]:
    """A new webhook from the page's form, as `fire` would send it."""
    from nango_cli.app import fire as core

    def text(name: str) -> str | None:
        value = form.get(name)
        return str(value).strip() or None if value is not None else None

    def count(name: str) -> dict[str | None, int]:
        value = text(name)
        if value is None:
            return {}
        if not value.isdigit():
            raise UsageError(f"{name} must be a whole number, not {value!r}")
        return {None: int(value)}

    kind = text("kind") or "sync"
    opts = core.FireOptions(
        kind=kind,
        sync_name=text("sync") if kind == "sync" else None,
        connection_id=text("connection"),
        integration=text("integration"),
        models=[m.strip() for m in (text("models") or "").split(",") if m.strip()]
        if kind == "sync"
        else [],
        added=count("added") if kind == "sync" else {},
        updated=count("updated") if kind == "sync" else {},
        deleted=count("deleted") if kind == "sync" else {},
        failed=bool(form.get("failed")) and kind in ("sync", "auth"),
        auth_operation=text("operation") or "creation",
        forward_body=(text("payload") or "{}").encode() if kind == "forward" else None,
        urls=[_url(u) for u in [text("url")] if u],
    )
    fired = core.fire(opts, settings, store)
    if fired.skipped:
        return {"sent": False, "skipped": fired.skipped, "webhooks": []}
    notes = fired.plan.notes
    return {"sent": True, "notes": notes, "webhooks": [s.to_dict() for s in fired.sent]}


def _url(text: str) -> str:
    from nango_cli.app.settings_table import validate_url

    try:
        return validate_url(text)
    except ValueError as exc:
        raise UsageError(f"invalid URL {text!r}: {exc}") from None
