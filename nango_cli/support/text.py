"""Untrusted text made inert: one escaping function for everything shown to a person.

Payloads, headers, imported files and project files are attacker-controlled.
Before any of it reaches a terminal it goes through `terminal_safe`, which
escapes C0 and C1 control characters, DEL, Unicode format characters (bidi
overrides and isolates U+202A-U+202E, U+2066-U+2069, zero-width characters,
the BOM, tag characters), line/paragraph separators and lone surrogates. JSON
output keeps the same characters as `\\uXXXX` escapes (`json_dumps`), so a
terminal showing raw JSON is safe too.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

# Unicode category Cf (format), as ranges; tests/test_text.py checks this against
# unicodedata so a Unicode update that adds one is noticed.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_SEPARATORS = "\u2028\u2029"
_SURROGATES = "\ud800-\udfff"
_CLASSES = {
    # For ASCII text only C0 controls and DEL can be unsafe: a small, fast class.
    "ascii_keep_newlines": "[\x00-\x08\x0b-\x1f\x7f]",
    "ascii_one_line": "[\x00-\x1f\x7f]",
    "keep_newlines": f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}{_SEPARATORS}{_SURROGATES}]",
    "one_line": f"[\x00-\x1f\x7f-\x9f{_FORMAT}{_SEPARATORS}{_SURROGATES}]",
    # In JSON text, C0 controls are already escaped by the encoder; these are not.
    "json": f"[\x7f-\x9f{_FORMAT}{_SEPARATORS}{_SURROGATES}]",
    "surrogates": f"[{_SURROGATES}]",
}


@functools.cache
def _pattern(name: str) -> re.Pattern[str]:
    # Compiled on first use: most commands print little and should not pay for it.
    return re.compile(_CLASSES[name])


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # Outside the BMP, JSON needs a surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def terminal_safe(text: str, keep_newlines: bool = True) -> str:
    """`text` with every character that could act on a terminal shown as an escape.

    Tabs are kept; newlines are kept unless `keep_newlines` is false (one-line fields).
    """
    name = "keep_newlines" if keep_newlines else "one_line"
    pattern = _pattern(f"ascii_{name}" if text.isascii() else name)
    if not pattern.search(text):
        return text
    return pattern.sub(_escape, text)


def one_line(text: str, limit: int | None = None) -> str:
    """A single safe line, cut to `limit` characters with an ellipsis."""
    safe = terminal_safe(text, keep_newlines=False)
    if limit is not None and len(safe) > limit:
        return safe[: max(limit - 1, 0)] + "…"
    return safe


# Made once: `json.dumps` with options builds an encoder per call, and the servers
# write a line per request.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


def json_dumps(document: Any, indent: int | None = None) -> str:
    """JSON text with raw UTF-8, except C1, DEL, format and separator characters and
    lone surrogates, which are written as \\uXXXX (valid JSON, inert on a terminal)."""
    if indent is None:
        text = _COMPACT_JSON.encode(document)
    else:
        text = json.dumps(document, indent=indent, ensure_ascii=False, default=str)
    if text.isascii() and "\x7f" not in text:  # the common case, checked in C
        return text
    pattern = _pattern("json")
    if not pattern.search(text):
        return text
    return pattern.sub(_json_escape, text)


def escape_json_controls(text: str) -> str:
    """JSON text with the characters a terminal would act on (C1, DEL, format and
    separator characters, lone surrogates) written as `\\uXXXX`: the same JSON value,
    inert on a terminal. (C0 controls are escaped by any JSON encoder already.)"""
    if text.isascii() and "\x7f" not in text:
        return text
    return _pattern("json").sub(_json_escape, text)


def escape_surrogates(text: str) -> str:
    """Lone surrogates (which UTF-8 cannot carry) written as `\\udXXX`: for storing
    attacker-controlled strings in SQLite and showing them as they were sent."""
    if text.isascii():
        return text
    pattern = _pattern("surrogates")
    if not pattern.search(text):
        return text
    return pattern.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
