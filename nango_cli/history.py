"""History helpers shared by `history` and `replay`: time filters, outcomes,
redaction, and the JSONL export format (one webhook per line).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from nango_cli.errors import UsageError
from nango_cli.payloads import format_timestamp
from nango_cli.store import AttemptRecord, WebhookRecord

EXPORT_FORMAT = "nango-hooks/webhook@1"
# Request headers that carry credentials; masked in exports unless revealed.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """`2h`, `30m`, `7d` (ago) or an ISO date/time -> a stored-timestamp bound."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return format_timestamp(now - delta)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid time {text!r}",
            hint="use a duration such as 2h, 30m, 7d, or a date 2026-11-01",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def outcome(webhook: WebhookRecord) -> str:
    """One phrase for a row of `history`: delivered, failed after 3, received ✓ …"""
    if webhook.direction == "received":
        verdict = webhook.meta.get("signature")
        mark = {"valid": "✓", "invalid": "✗", "missing": "∅", "no-key": "?"}.get(str(verdict), "")
        return f"received {mark} signature".replace("  ", " ").strip()
    n = webhook.attempt_count
    if webhook.status == "delivered":
        return "delivered" if n <= 1 else f"delivered after {n}"
    if webhook.status == "failed":
        return f"failed after {n}"
    return webhook.status


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: ("…redacted" if name.lower() in SENSITIVE_HEADERS else value)
        for name, value in headers.items()
    }


def _body_fields(body: bytes) -> dict[str, Any]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


def to_export(webhook: WebhookRecord, reveal: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"format": EXPORT_FORMAT, **webhook.summary()}
    data["headers"] = webhook.headers if reveal else redact_headers(webhook.headers)
    data["meta"] = webhook.meta
    data.update(_body_fields(webhook.body))
    data["attempts"] = [
        {
            **a.to_dict(include_body=False),
            "response_headers": a.response_headers,
            "response_truncated": a.response_truncated,
            **{f"response_{k}": v for k, v in _body_fields(a.response_body).items()},
        }
        for a in webhook.attempts
    ]
    return data


def _body_from(data: dict[str, Any], prefix: str = "") -> bytes:
    if f"{prefix}body_base64" in data:
        return base64.b64decode(data[f"{prefix}body_base64"], validate=True)
    text = data.get(f"{prefix}body", "")
    if not isinstance(text, str):
        raise ValueError(f"{prefix}body must be a string")
    return text.encode("utf-8", "surrogatepass")


def from_export(data: Any) -> WebhookRecord:
    """Parse one exported line; ValueError with a reason when it is not one."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a nango-hooks export line (expected format {EXPORT_FORMAT!r})")
    try:
        webhook = WebhookRecord(
            id=str(data["id"]),
            created_at=str(data["created_at"]),
            direction=str(data["direction"]),
            env=data.get("env"),
            type=data.get("type"),
            body=_body_from(data),
            headers=dict(data.get("headers") or {}),
            status=str(data.get("status") or "unknown"),
            sync_name=data.get("sync_name"),
            model=data.get("model"),
            connection_id=data.get("connection_id"),
            provider_config_key=data.get("provider_config_key"),
            targets=list(data.get("targets") or []),
            attempt_count=int(data.get("attempt_count") or 0),
            last_status_code=data.get("last_status_code"),
            latency_ms=data.get("latency_ms"),
            replay_of=data.get("replay_of"),
            meta=dict(data.get("meta") or {}),
        )
        webhook.attempts = [
            AttemptRecord(
                target=str(a["target"]),
                number=int(a["number"]),
                started_at=str(a["started_at"]),
                outcome=str(a["outcome"]),
                status_code=a.get("status_code"),
                latency_ms=a.get("latency_ms"),
                error_class=a.get("error_class"),
                error=a.get("error"),
                will_retry=bool(a.get("will_retry")),
                wait_s=a.get("wait_s"),
                response_headers=dict(a.get("response_headers") or {}),
                response_body=_body_from(a, "response_"),
                response_truncated=bool(a.get("response_truncated")),
            )
            for a in data.get("attempts") or []
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed export line ({type(exc).__name__}: {exc})") from None
    if not re.fullmatch(r"[0-9a-f]{4,32}", webhook.id):
        raise ValueError("malformed export line (id is not hex)")
    if webhook.direction not in ("sent", "received"):
        raise ValueError("malformed export line (direction must be sent or received)")
    return webhook


def export_line(webhook: WebhookRecord, reveal: bool = False) -> str:
    return json.dumps(to_export(webhook, reveal), ensure_ascii=False, separators=(",", ":"))
