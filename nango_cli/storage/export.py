"""The JSONL export format of the history (one webhook per line), and redaction."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from nango_cli.delivery.history_rows import ERROR_CLASSES, AttemptRecord, WebhookRecord
from nango_cli.errors import UsageError
from nango_cli.protocol.serialization import parse_json

EXPORT_FORMAT = "nango-hooks/webhook@1"


# Request headers that carry credentials; masked in exports unless revealed.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)


REDACTED = "…redacted"


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: (REDACTED if name.lower() in SENSITIVE_HEADERS else value)
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


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


_HEX_ID = re.compile(r"[0-9a-f]{4,32}")


STATUSES = ("sending", "delivered", "failed", "interrupted", "received", "dry-run")


OUTCOMES = ("success", "http_error", "network_error")


class _Line:
    """Typed access to one export line; every problem is a ValueError naming the field."""

    def __init__(self, data: dict[str, Any], where: str = "") -> None:
        self.data = data
        self.where = where

    def _fail(self, name: str, expected: str) -> ValueError:
        return ValueError(f"{self.where}{name} must be {expected}")

    def text(self, name: str, required: bool = False, limit: int | None = None) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self._fail(name, "a string")
        if limit is not None and len(value) > limit:
            raise self._fail(name, f"a string of at most {limit} characters")
        return value

    def match(
        self, name: str, pattern: re.Pattern[str], expected: str, required: bool
    ) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self._fail(name, expected)
        return value

    def choice(self, name: str, options: tuple[str, ...], required: bool = True) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if value not in options:
            raise self._fail(name, "one of " + ", ".join(options))
        return str(value)

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(name, f"a whole number from {low} to {high}")
        return value

    def number(self, name: str) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self._fail(name, "a number")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(name, "a list of strings")
        return list(value)

    def string_map(self, name: str) -> dict[str, str]:
        value = self.data.get(name) or {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._fail(name, "an object of string values")
        return dict(value)

    def object(self, name: str) -> dict[str, Any]:
        value = self.data.get(name) or {}
        if not isinstance(value, dict):
            raise self._fail(name, "an object")
        return dict(value)

    def body(self, prefix: str = "") -> bytes:
        if f"{prefix}body_base64" in self.data:
            encoded = self.data[f"{prefix}body_base64"]
            if not isinstance(encoded, str):
                raise self._fail(f"{prefix}body_base64", "a base64 string")
            try:
                return base64.b64decode(encoded, validate=True)
            except ValueError:
                raise self._fail(f"{prefix}body_base64", "valid base64") from None
        text = self.data.get(f"{prefix}body", "")
        if not isinstance(text, str):
            raise self._fail(f"{prefix}body", "a string")
        return text.encode("utf-8", "surrogatepass")


def _attempt_from(data: Any, index: int) -> AttemptRecord:
    if not isinstance(data, dict):
        raise ValueError(f"attempts[{index}] must be an object")
    line = _Line(data, f"attempts[{index}].")
    return AttemptRecord(
        target=line.text("target", required=True) or "",
        number=line.integer("number", 1, 1000) or 1,
        started_at=line.match("started_at", _TIMESTAMP, "an ISO-8601 UTC time", True) or "",
        outcome=line.choice("outcome", OUTCOMES),  # type: ignore[arg-type]
        status_code=line.integer("status_code", 100, 999),
        latency_ms=line.number("latency_ms"),
        error_class=line.choice("error_class", ERROR_CLASSES, required=False),  # type: ignore[arg-type]
        error=line.text("error"),
        will_retry=line.flag("will_retry"),
        wait_s=line.number("wait_s"),
        response_headers=line.string_map("response_headers"),
        response_body=line.body("response_"),
        response_truncated=line.flag("response_truncated"),
        redirects=line.strings("redirects"),
        note=line.text("note"),
    )


def from_export(data: Any) -> WebhookRecord:
    """Parse one exported line; ValueError with a reason when it is not a valid one."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a nango-hooks export line (expected format {EXPORT_FORMAT!r})")
    line = _Line(data)
    attempts = data.get("attempts") or []
    if not isinstance(attempts, list):
        raise ValueError("attempts must be a list")
    webhook = WebhookRecord(
        id=line.match("id", _HEX_ID, "4 to 32 hex characters", True) or "",
        created_at=line.match("created_at", _TIMESTAMP, "an ISO-8601 UTC time", True) or "",
        direction=line.choice("direction", ("sent", "received")) or "sent",
        env=line.text("env", limit=64),
        type=line.text("type"),
        body=line.body(),
        headers=line.string_map("headers"),
        status=line.choice("status", STATUSES) or "received",
        sync_name=line.text("sync_name"),
        model=line.text("model"),
        connection_id=line.text("connection_id"),
        provider_config_key=line.text("provider_config_key"),
        targets=line.strings("targets"),
        attempt_count=line.integer("attempt_count", 0, 1_000_000, default=0) or 0,
        last_status_code=line.integer("last_status_code", 100, 999),
        latency_ms=line.number("latency_ms"),
        replay_of=line.match("replay_of", _HEX_ID, "4 to 32 hex characters", False),
        meta=line.object("meta"),
        negative=line.flag("negative"),
    )
    webhook.attempts = [_attempt_from(a, i) for i, a in enumerate(attempts)]
    return webhook


def iter_export(stream: Any, name: str, max_line: int) -> Iterator[WebhookRecord]:
    """Webhooks from `history export` lines on a binary stream, one line in memory at a
    time; a line longer than `max_line` is refused without reading the rest of it."""
    from nango_cli.support.files import format_size

    number = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            raise UsageError(
                f"{name}: line {number} is longer than {format_size(max_line)}",
                hint="nothing was imported; is it `nango-hooks history export` output?",
            )
        if not line.strip():
            continue
        try:
            yield from_export(parse_json(line))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = str(exc)
            raise UsageError(
                f"{name}: line {number}: {reason}",
                hint="nothing was imported; the file must be `nango-hooks history export` output",
            ) from None


def export_line(webhook: WebhookRecord, reveal: bool = False) -> str:
    return json.dumps(to_export(webhook, reveal), ensure_ascii=False, separators=(",", ":"))
