"""Small helpers for the store's SQL: JSON columns and equality filters."""

from __future__ import annotations

import json
from typing import Any

from nango_cli.support.text import escape_surrogates

# Made once: `json.dumps` with options builds an encoder per call (a record each).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """A JSON column's text: compact, raw UTF-8; a lone surrogate (valid in JSON, not
    in UTF-8, so SQLite refuses it) is kept as its `\\udXXX` escape."""
    return escape_surrogates(_COMPACT.encode(value))


def where_equal(**equal: str | None) -> tuple[str, list[Any]]:
    """` WHERE a = ? AND b = ?` for the arguments that are not None, and their values."""
    clauses = [f"{name} = ?" for name, value in equal.items() if value is not None]
    params = [value for value in equal.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
