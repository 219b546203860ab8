"""What `nango-hooks ui` shows, over the store: pages of the timeline and one webhook
in full (what it does is in actions.py). No HTTP here: servers/inspector/server.py
serves it.
"""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path
from typing import Any, NamedTuple

from nango_cli.app import history
from nango_cli.app.keys import key_ring
from nango_cli.app.settings import Settings
from nango_cli.delivery.history_rows import WebhookRecord
from nango_cli.protocol import schema, signatures
from nango_cli.storage import api_log, export
from nango_cli.storage.webhooks import HistoryFilter, Store

PAGE = 100
_PARSE_LIMIT = 1024 * 1024  # bodies larger than this are not parsed for the row


class Filters(NamedTuple):
    type: str | None = None
    sync_name: str | None = None
    connection_id: str | None = None
    direction: str | None = None
    verdict: str | None = None  # valid, invalid, missing, no-key, sent
    failed: bool = False
    # Deliberate negatives (forged webhooks sent to be rejected) are shown unless false.
    negatives: bool = True


def row(webhook: WebhookRecord, rowid: int) -> dict[str, Any]:
    """One line of the timeline."""
    # Very large bodies are not parsed for a row of the timeline (the detail shows them).
    body = schema.fields(webhook.body) if len(webhook.body) <= _PARSE_LIMIT else {}
    results = body.get("responseResults")
    counts = (
        {k: results.get(k) for k in ("added", "updated", "deleted")}
        if isinstance(results, dict)
        else None
    )
    run = None
    # A negative (and its control) is a test of its own, never part of a sync run.
    testing = webhook.negative or bool(webhook.meta.get("control"))
    # A resend (replay, a scenario's duplicate) is Nango retrying one webhook, not another
    # model of the run: it stands on its own.
    resend = bool(webhook.replay_of)
    if (
        webhook.type == "sync"
        and isinstance(body.get("modifiedAfter"), str)
        and not testing
        and not resend
    ):
        # Nango sends one webhook per model for a sync run: same sync, connection and
        # modifiedAfter. The page groups them.
        run = f"{webhook.sync_name}|{webhook.connection_id}|{body['modifiedAfter']}"
    if webhook.direction == "received":
        verdict = str(webhook.meta.get("signature") or "missing")
    else:
        verdict = "deliberately bad" if webhook.negative else "signed"
    return {
        **webhook.summary(),
        "rowid": rowid,
        "outcome": history.outcome(webhook),
        "operation": body.get("operation") if webhook.type == "auth" else None,
        "success": body.get("success"),
        "counts": counts,
        "run": run,
        "verdict": verdict,
        "size": len(webhook.body),
        "answered": webhook.meta.get("answered"),
        # A forgery's verdict, as the run that sent it decided (app/forgeries.py).
        "forgery": webhook.meta.get("verdict") if webhook.negative else None,
        "filtered": bool(webhook.meta.get("filtered")),
        # "expected rejection" (a forgery sent to be refused), "control" (its correctly
        # signed twin), or None: the page labels them as tests, not failures.
        "test": "expected rejection"
        if webhook.meta.get("expect") == "rejection"
        else "control"
        if webhook.meta.get("control")
        else None,
    }


def _history_filter(filters: Filters, limit: int) -> HistoryFilter:
    # "sent" is the verdict the page gives every webhook nango-hooks sent itself.
    sent = filters.verdict == "sent"
    return HistoryFilter(
        type=filters.type or None,
        sync_name=filters.sync_name or None,
        connection_id=filters.connection_id or None,
        direction="sent" if sent else filters.direction or None,
        signature=None if sent else filters.verdict or None,
        failed=filters.failed,
        include_negative=filters.negatives,
        limit=limit,
    )


def page(
    store: Store, filters: Filters, before: int | None = None, limit: int = PAGE
) -> dict[str, Any]:
    """The newest `limit` webhooks (before row `before`), where the next page starts,
    and `latest`: the newest row in the store when the page was read. The list holds
    rows up to `latest` only, so a live feed resuming after it misses nothing and
    repeats nothing."""
    latest = latest_rowid(store)
    bound = latest + 1 if before is None else min(before, latest + 1)
    found = store.by_row(_history_filter(filters, limit + 1), before=bound)
    more = len(found) > limit
    found = found[:limit]
    return {
        "webhooks": [row(webhook, rowid) for rowid, webhook in found],
        "next": found[-1][0] if more and found else None,
        # Counted up to `latest`, as the list is: a webhook stored meanwhile is the
        # feed's to add (counted here too, the page showed one more than it held).
        "total": store.count(up_to=latest),
        "latest": latest,
        "generation": store.generation(),
    }


def newer(store: Store, after: int, limit: int = 200) -> list[dict[str, Any]]:
    """Webhooks stored after row `after`, oldest first (for the live feed)."""
    return [row(w, rowid) for rowid, w in store.by_row(HistoryFilter(limit=limit), after=after)]


def feed_step(store: Store, last: int, seen: int) -> tuple[int, bool, int, list[dict[str, Any]]]:
    """One look of the live feed (run off the event loop): the history's generation,
    whether it was cleared or pruned since `seen` (then the feed goes on from the newest
    row: the page reloads its list, nothing is replayed), where the feed now is, and
    the rows stored after it (at most `newer`'s batch)."""
    now = generation(store)
    if now != seen:
        return now, True, latest_rowid(store), []
    rows = newer(store, last)
    return now, False, max([last, *(int(r["rowid"]) for r in rows)]), rows


def generation(store: Store) -> int:
    """Changes when the history is cleared or pruned (row numbers may then be reused)."""
    return store.generation()


def latest_rowid(store: Store) -> int:
    newest = store.by_row(HistoryFilter(limit=1))
    return newest[0][0] if newest else 0


def detail(store: Store, webhook_id: str, settings: Settings) -> dict[str, Any]:
    """Everything about one webhook: for the detail pane."""
    webhook = store.get(webhook_id)
    with store.reading() as db:
        found = db.execute("SELECT rowid FROM webhooks WHERE id = ?", (webhook.id,)).fetchone()
    rowid = int(found[0])
    text = webhook.body.decode("utf-8", "replace")
    fields, notes = schema.check(webhook.body)
    if webhook.direction != "received":
        # Built by nango-hooks as Nango builds them: Nango itself still sends the
        # deprecated fields, so a warning about them here is noise.
        notes = [n for n in notes if "deprecated" not in n.text]
    if webhook.direction == "received":
        verdicts = webhook.meta.get("verdicts") or {}
        hmac_state, hmac_reason = (verdicts.get("hmac") or [None, None])[:2]
        legacy_state, legacy_reason = (verdicts.get("legacy") or [None, None])[:2]
    else:
        keys = key_ring(settings)
        hmac_v, legacy_v = signatures.verify_headers(keys, webhook.body, webhook.headers)
        hmac_state, hmac_reason = hmac_v.state, hmac_v.reason
        legacy_state, legacy_reason = legacy_v.state, legacy_v.reason
    data = {
        **row(webhook, rowid),
        "headers": export.redact_headers(webhook.headers),
        "body": text,
        "body_is_json": bool(fields) or text.lstrip().startswith(("{", "[")),
        "body_base64": base64.b64encode(webhook.body).decode() if "\ufffd" in text else None,
        "signature": {
            "hmac": {"state": hmac_state, "reason": hmac_reason},
            "legacy": {"state": legacy_state, "reason": legacy_reason},
        },
        "schema": [n.to_dict() for n in notes],
        "attempts": [a.to_dict() for a in webhook.attempts],
        "meta": {k: v for k, v in webhook.meta.items() if k != "verdicts"},
        "api_calls": [r.to_dict() for r in _api_calls(store, webhook)],
        "curl": curl(webhook, settings.url),
        # The page puts the URL typed in the replay field before these.
        "curl_options": curl_options(webhook),
        "curl_target": (webhook.targets[0] if webhook.targets else settings.url) or None,
        "notes": _nango_notes(fields),
    }
    return data


def _api_calls(store: Store, webhook: WebhookRecord) -> list[api_log.ApiRequest]:
    """The calls the handler made to the local API while it handled this webhook: during
    one of its attempts (app.api_calls), for its connection (and model). None for a
    forgery, or under an attempt the handler refused as unsigned (401, 403): it made
    those calls for another webhook."""
    from nango_cli.app import api_calls

    if webhook.negative or not webhook.connection_id:
        return []
    found: list[api_log.ApiRequest] = []
    for attempt in webhook.attempts:
        if attempt.status_code in (401, 403):
            continue
        start, end = api_calls.window_of(attempt)
        found += [
            r
            for r in api_calls.calls_during(store, start, end, settle=False)
            if r.connection_id in (None, webhook.connection_id)
            and (webhook.model is None or r.model in (None, webhook.model))
            and r not in found
        ]
    return found[:50]


def _nango_notes(fields: dict[str, Any]) -> list[str]:
    """What a Nango-aware reader should know about this body."""
    notes = []
    checkpoints = fields.get("checkpoints")
    if isinstance(checkpoints, dict) and "from" in checkpoints and checkpoints["from"] is None:
        notes.append("checkpoints.from is null: a full resync (the first run, or a reset)")
    if fields.get("syncType") == "INITIAL":
        notes.append("syncType INITIAL: the first run of this sync for the connection")
    if fields.get("type") == "sync" and fields.get("success") is True:
        notes.append(
            "fetch the records with GET /records?model=…&modified_after="
            f"{fields.get('modifiedAfter')} (nango.listRecords({{ modifiedAfter }}))"
        )
    if fields.get("type") == "auth" and fields.get("operation") == "deletion":
        notes.append("the connection was deleted: stop using it")
    return notes


def curl(webhook: WebhookRecord, default_target: str | None) -> str:
    """The request again, as a curl command (the body inline, its bytes unchanged), to
    where it went, else `default_target` (the environment's URL), else $WEBHOOK_URL."""
    target = webhook.targets[0] if webhook.targets else default_target
    where = shlex.quote(target) if target else '"$WEBHOOK_URL"'
    return f"curl -X POST {where} {curl_options(webhook)}"


def curl_options(webhook: WebhookRecord) -> str:
    """What follows the URL in the curl command: the headers and the body."""
    parts: list[str] = []
    for name, value in export.redact_headers(webhook.headers).items():
        if name.lower() in ("host", "content-length", "connection"):
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-binary", shlex.quote(webhook.body.decode("utf-8", "replace"))]
    return " ".join(parts)


def check_report(directory: Path) -> dict[str, Any] | None:
    """The last `check` run's report kept in `directory` (the data directory), if any."""
    from nango_cli.app.check_specs import REPORT_FILE

    path = directory / REPORT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
