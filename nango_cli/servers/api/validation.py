"""The API stand-in's errors and input checks, in Nango's shapes.

Nango's server answers `{"error": {"code", "message"}}`; a malformed query, header
or body is 400 `invalid_query_params` / `invalid_headers` / `invalid_body` naming
the offending parameter. Every value a client sends is checked here before it
reaches the store, so no client mistake (a digit `int()` rejects, a 5,000-digit
number, a date that does not exist, a raw byte in a header, an object where a
string belongs) can become a 5xx.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from nango_cli.support.timefmt import format_timestamp

# What Nango's zod schema takes for `z.string().datetime()` (UTC), plus offsets,
# which Nango's SDK never sends but people type; anchored at both ends.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
MAX_TEXT = 1024


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            error["errors"] = self.errors
        return json.dumps({"error": error}).encode()


def invalid(where: str, problems: list[tuple[str, str]]) -> ApiError:
    code = {"query": "invalid_query_params", "headers": "invalid_headers", "body": "invalid_body"}[
        where
    ]
    errors = [{"code": "invalid", "message": message, "path": [path]} for path, message in problems]
    return ApiError(400, code, "; ".join(f"{p}: {m}" for p, m in problems), errors)


def whole_number(text: str, low: int, high: int) -> int | None:
    """`text` as a number from `low` to `high`, or None. Only ASCII digits (str.isdigit
    also takes "²", which int() rejects), and never more than the range needs, so a
    5,000-digit value is refused before it is converted."""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def text_value(value: Any) -> str | None:
    """A client-given identifier as the store can take it, or None when it is not one:
    a string of 1 to 1,024 characters, without control characters or lone surrogates
    (which is also what a raw 0xFF byte in a header decodes to)."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT:
        return None
    for ch in value:
        code = ord(ch)
        if code < 32 or code == 127 or 0xD800 <= code <= 0xDFFF:
            return None
    return value


def timestamp(value: str, name: str, lookback_days: int | None = 365) -> str:
    """An ISO 8601 datetime (as Nango's validation takes it) in the stored form."""
    if not _ISO.fullmatch(value):
        raise invalid(
            "query", [(name, "must be an ISO 8601 datetime, e.g. 2026-11-01T00:00:00.000Z")]
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid("query", [(name, "is not a date that exists")]) from None
    if lookback_days is not None and moment < datetime.now(UTC) - timedelta(days=lookback_days):
        raise invalid("query", [(name, "must be within the last 12 months")])
    return format_timestamp(moment)


def json_body(text: str) -> dict[str, Any]:
    from nango_cli.protocol.serialization import parse_json

    try:
        body = parse_json(text) if text else {}
    except ValueError:
        raise invalid("body", [("body", "not valid JSON")]) from None
    if not isinstance(body, dict):
        raise invalid("body", [("body", "must be a JSON object")])
    return body


def same_secret(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )
