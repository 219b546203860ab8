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
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: Any = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        # The error object's fields when Nango's answer has no message (its 429).
        self.fields = fields

    def body(self) -> bytes:
        if self.fields is not None:
            return json.dumps({"error": {"code": self.code, **self.fields}}).encode()
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            error["errors"] = self.errors
        return json.dumps({"error": error}).encode()


# What the stand-in's rate limit says when a 429 is played: a window of a minute.
RATE_LIMIT_PER_MIN = 60


def rate_limited(method: str, path: str, retry_after_s: int = 1) -> ApiError:
    """Nango's answer past its rate limit (packages/server/lib/middleware/
    ratelimit.middleware.ts): 429 `{"error": {"code": "too_many_request", "method",
    "path"}}` with Retry-After (whole seconds) and the X-RateLimit-* headers."""
    reset = int(datetime.now(UTC).timestamp()) + retry_after_s
    return ApiError(
        429,
        "too_many_request",
        "Too many requests",
        headers={
            "Retry-After": str(retry_after_s),
            "X-RateLimit-Limit": str(RATE_LIMIT_PER_MIN),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        },
        fields={"method": method, "path": path},
    )


def invalid(where: str, problems: list[tuple[str, str]]) -> ApiError:
    code = {"query": "invalid_query_params", "headers": "invalid_headers", "body": "invalid_body"}[
        where
    ]
    errors = [{"code": "invalid", "message": message, "path": [path]} for path, message in problems]
    return ApiError(400, code, "; ".join(f"{p}: {m}" for p, m in problems), errors)


def issues_error(where: str, issues: list[dict[str, Any]]) -> ApiError:
    """400 with zod's issues as Nango's zodErrorToHTTP passes them on (`code`,
    `message`, `path`)."""
    code = {"query": "invalid_query_params", "headers": "invalid_headers", "body": "invalid_body"}[
        where
    ]
    message = "; ".join(
        f"{'.'.join(str(p) for p in i['path']) or where}: {i['message']}" for i in issues
    )
    return ApiError(400, code, message, issues)


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


# zod 4's `z.string().datetime()` as GET /records validates `modified_after` (Nango's
# packages/server/lib/controllers/records/getRecords.ts, `withinLookback`): UTC with
# `Z` only (an offset such as +01:00 is refused), seconds and fractions optional.
_ZOD_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z")
# What JavaScript's Number() reads (z.coerce.number()): decimals with an exponent,
# 0x/0o/0b integers, surrounding white space; an empty text is 0.
_JS_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?Infinity")
_JS_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def js_number(text: str) -> float | None:
    """`Number(text)` as JavaScript computes it, or None for NaN."""
    stripped = text.strip(" \t\n\r\v\f")
    if not stripped:
        return 0.0
    if len(stripped) > 400:
        return None
    if _JS_RADIX.fullmatch(stripped):
        return float(int(stripped[2:], {"x": 16, "o": 8, "b": 2}[stripped[1].lower()]))
    if _JS_DECIMAL.fullmatch(stripped):
        return float(stripped.replace("Infinity", "inf"))
    return None


def records_since(value: str, name: str) -> str:
    """`modified_after` (or `delta`) of GET /records, as Nango's zod schema takes it,
    within its 12-month lookback, in the stored form."""
    if not _ZOD_DATETIME.fullmatch(value):
        raise invalid(
            "query",
            [(name, "must be an ISO 8601 datetime in UTC (Z), e.g. 2026-11-01T00:00:00.000Z")],
        )
    seconds = value if value.count(":") == 2 else value[:-1] + ":00Z"
    return timestamp(seconds, name)


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
