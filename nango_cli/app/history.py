"""History helpers for `history`, `replay` and the inspector: time filters, outcomes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from nango_cli.app import forgeries
from nango_cli.delivery.history_rows import WebhookRecord
from nango_cli.support.timefmt import format_timestamp, parse_timestamp

_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """`2h`, `30m`, `7d` (ago) or an ISO date/time -> a stored-timestamp bound."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return format_timestamp(now - delta)
    return parse_timestamp(
        text, "time", hint="use a duration such as 2h, 30m, 7d, or a date 2026-11-01"
    )


def outcome(webhook: WebhookRecord) -> str:
    """One phrase for a row of `history`: delivered, failed after 3, received ✓ …, and
    for a deliberate negative what the handler did with it."""
    if webhook.direction == "received":
        verdict = webhook.meta.get("signature")
        mark = {"valid": "✓", "invalid": "✗", "missing": "∅", "no-key": "?"}.get(str(verdict), "")
        return f"received {mark} signature".replace("  ", " ").strip()
    n = webhook.attempt_count
    decided = webhook.meta.get("verdict")
    if webhook.negative and decided in forgeries.HISTORY_OUTCOME:
        return forgeries.phrase(str(decided), webhook.last_status_code)
    if webhook.negative and webhook.meta.get("expect") == "rejection":
        code = webhook.last_status_code
        if webhook.status == "delivered":
            return "accepted: a forgery (bad signature)!"
        if code is not None and 400 <= code < 500:
            return f"rejected as expected ({code})"
        if webhook.status == "failed":
            return f"negative, not answered 4xx ({code or 'no answer'})"
        return f"negative ({webhook.status})"
    control = " (control)" if webhook.meta.get("control") else ""
    if webhook.status == "delivered":
        return ("delivered" if n <= 1 else f"delivered after {n}") + control
    if webhook.status == "failed":
        return f"failed after {n}{control}"
    return webhook.status
