"""Timestamps as Nango writes them: ISO-8601 UTC with milliseconds (`Date.toISOString`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from nango_cli.errors import UsageError


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as JavaScript's Date.toISOString()."""
    m = moment.astimezone(UTC)
    # Formatted by hand: strftime is several times slower, and load mode stamps
    # every attempt.
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
        f"{m.second:02d}.{m.microsecond // 1000:03d}Z"
    )


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(
    text: str,
    what: str = "timestamp",
    hint: str = "use ISO-8601, e.g. 2026-11-26T12:00:00.000Z or 2026-11-26",
) -> str:
    """Normalize a user-given time to Nango's format; naive times are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}", hint=hint) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def normalized(text: str) -> str | None:
    """Any ISO-8601 time (with or without milliseconds, `Z` or an offset; naive is UTC)
    in Nango's form, or None when it is not one (or out of range)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_timestamp(moment)
    except (ValueError, OverflowError):
        return None


def shift(stamp: str, delta: timedelta) -> str:
    """A timestamp moved by `delta`, in Nango's form."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment + delta)


def same_moment(first: str, second: str) -> bool:
    """Whether two ISO timestamps name the same millisecond (False if one does not parse)."""
    try:
        a = datetime.fromisoformat(first.replace("Z", "+00:00"))
        b = datetime.fromisoformat(second.replace("Z", "+00:00"))
    except ValueError:
        return False
    return abs((a - b).total_seconds()) < 0.001


def parse_duration(raw: object) -> float:
    """Seconds from `20`, `2.5`, `500ms`, `20s`, `2m` or `1h`."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration such as 20s, 500ms or 2m")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(raw))
        if not match:
            raise ValueError("expected a duration such as 20s, 500ms or 2m")
        number, unit = float(match.group(1)), match.group(2) or "s"
        seconds = number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("a duration must be a finite, non-negative number")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000, 3):g}ms"
    return f"{seconds:g}s"
