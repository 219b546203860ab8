"""Nango's body serialization, byte for byte as JavaScript writes it (pure).

Nango serializes bodies with a stable stringify: keys sorted recursively,
compact, raw UTF-8. JavaScript differs from Python's `json.dumps` in ways that
change bytes, and therefore signatures, so they are reproduced here:

* object keys: integer-like keys ("0", "7", "42": canonical array indices)
  come first in numeric order, then the rest sorted by UTF-16 code units
  (what `Array.prototype.sort` compares);
* numbers print as `Number.prototype.toString` does: `1.0` -> `1`,
  `1e-7` -> `1e-7`, `1e21` -> `1e+21`, `-0` -> `0`, NaN/Infinity -> `null`;
* a lone surrogate in a string is written as a `\\udXXX` escape;
* integers beyond 2**53 - 1 are not exact in JavaScript: Nango parses an
  external payload with JSON.parse, which rounds them to the nearest double, and
  re-serializes them as Number.prototype.toString prints that double
  (12345678901234567891 -> 12345678901234567000). `parse_json` and `serialize`
  do the same, and report each rounding so the CLI can warn.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from nango_cli.protocol.vocabulary import MAX_SAFE_INTEGER

_MAX_ARRAY_INDEX = 2**32 - 2


_INDEX_KEY = re.compile(r"^(0|[1-9][0-9]*)$")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


_encode_string = json.encoder.py_encode_basestring  # ensure_ascii=False escaping, like JS


def _js_key_order(keys: list[str], sort: bool = True) -> list[str]:
    """Integer-like keys first in numeric order (as JavaScript objects keep them), then
    the rest sorted by UTF-16 code units (stable stringify) or in insertion order."""
    index_keys: list[tuple[int, str]] = []
    other_keys: list[str] = []
    for key in keys:
        if _INDEX_KEY.match(key) and int(key) <= _MAX_ARRAY_INDEX:
            index_keys.append((int(key), key))
        else:
            other_keys.append(key)
    index_keys.sort()
    if sort:
        # UTF-16 code unit order: big-endian UTF-16 bytes compare the same way.
        other_keys.sort(key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    return [key for _, key in index_keys] + other_keys


def js_number(value: float) -> str:
    """Format a float exactly as JavaScript's Number.prototype.toString (radix 10)."""
    if math.isnan(value) or math.isinf(value):
        return "null"  # what JSON.stringify writes
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-tripping digits, the same digits JS picks.
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # n: position of the decimal point relative to the digit string (ECMA-262 Number::toString)
    exponent = int(exp_text) if exp_text else 0
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    n = len(int_part) + exponent - leading_zeros
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + exp
    return sign + text


def _js_string(value: str) -> str:
    encoded: str = _encode_string(value)
    if _LONE_SURROGATE.search(encoded):
        encoded = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
    return encoded


def js_integer(value: int) -> tuple[str, bool]:
    """An integer as JavaScript prints it after JSON.parse: exact up to 2**53 - 1, else
    the nearest double (Infinity, written by JSON.stringify as null, past the range).
    Returns (text, rounded)."""
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value), False
    try:
        text = js_number(float(value))
    except OverflowError:
        text = "null"
    return text, text != str(value)


def _write(value: Any, out: list[str], sort: bool = True, rounded: list[str] | None = None) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_js_string(value))
    elif isinstance(value, int):
        text, was_rounded = js_integer(value)
        if was_rounded and rounded is not None:
            rounded.append(f"{value} -> {text}")
        out.append(text)
    elif isinstance(value, float):
        out.append(js_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key in _js_key_order([str(k) for k in value], sort):
            if not first:
                out.append(",")
            first = False
            out.append(_js_string(key))
            out.append(":")
            _write(value[key], out, sort, rounded)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, sort, rounded)
        out.append("]")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__} as JSON")


def stable_stringify(value: Any, notes: list[str] | None = None) -> str:
    out: list[str] = []
    rounded: list[str] = []
    _write(value, out, rounded=rounded)
    if rounded and notes is not None:
        shown = ", ".join(rounded[:3]) + (
            f" and {len(rounded) - 3} more" if len(rounded) > 3 else ""
        )
        notes.append(
            f"integers beyond 2^53 rounded as JavaScript's JSON.parse does ({shown}); "
            "Nango sends them rounded too"
        )
    return "".join(out)


def serialize(value: Any, notes: list[str] | None = None) -> bytes:
    """The exact bytes Nango would sign and send for `value`; a rounded integer adds a
    note to `notes` when given."""
    return stable_stringify(value, notes).encode("utf-8", "surrogatepass")


def _parse_int(text: str) -> int | float:
    # A number literal too long for Python's int() limit is far beyond a double anyway.
    if len(text.lstrip("-")) > 400:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def parse_json(data: bytes | str) -> Any:
    """json.loads, safe for any input: huge integer literals do not raise (they become
    the infinities JavaScript would make of them), and nesting beyond the interpreter's
    limit is a ValueError like any other malformed JSON."""
    try:
        return json.loads(data, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)` without sorting: keys in insertion order (as parsed)."""
    out: list[str] = []
    _write(value, out, sort=False)
    return "".join(out)
