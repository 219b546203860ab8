"""Reading user-supplied inputs (files or stdin) and parsing small option syntaxes."""

from __future__ import annotations

import sys

from nango_cli.errors import UsageError


def read_input(source: str, what: str) -> bytes:
    """Bytes of FILE, or of standard input for `-`."""
    if source == "-":
        if sys.stdin.isatty():
            raise UsageError(
                f"{what}: '-' reads standard input, but it is a terminal",
                hint="pipe the body in (… | nango-hooks …) or pass a file path",
            )
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file {source!r}", hint="check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {source!r} is a directory", hint="pass a file") from None
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot read {source!r} ({exc.strerror})", hint="check its permissions"
        ) from None


def parse_counts(values: list[str] | None, option: str) -> dict[str | None, int]:
    """`--added 3` (every model) or `--added Ticket=3` (one model), repeatable."""
    counts: dict[str | None, int] = {}
    for value in values or []:
        model, sep, number = value.rpartition("=")
        try:
            count = int(number)
        except ValueError:
            count = -1
        if count < 0:
            raise UsageError(
                f"invalid {option} {value!r}", hint=f"use {option} 3 or {option} Ticket=3"
            )
        counts[model if sep else None] = count
    return counts


def parse_pairs(values: list[str] | None, option: str, sep: str) -> list[tuple[str, str]]:
    """`k=v` / `Name: value` pairs, in order."""
    pairs = []
    for value in values or []:
        key, found, rest = value.partition(sep)
        if not found or not key.strip():
            raise UsageError(f"invalid {option} {value!r}", hint=f"use {option} NAME{sep}VALUE")
        pairs.append((key.strip(), rest.strip()))
    return pairs


def parse_size(text: str, option: str) -> int:
    """Bytes from `5MB`, `512KB`, `1048576` (binary multiples)."""
    import re

    match = re.fullmatch(r"\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*", text.lower())
    if not match:
        raise UsageError(f"invalid {option} {text!r}", hint="e.g. 5MB, 512KB or a byte count")
    unit = (match.group(2) or "b").rstrip("ib") or "b"
    factor = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit[0]]
    size = int(match.group(1)) * factor
    if size < 1:
        raise UsageError(f"{option} must be at least 1 byte")
    return size
