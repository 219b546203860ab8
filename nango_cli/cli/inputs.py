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
