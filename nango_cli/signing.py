"""Nango's body serialization and webhook signatures (pure functions).

Nango serializes bodies with a stable stringify: keys sorted recursively,
compact, raw UTF-8. JavaScript differs from Python's `json.dumps` in ways that
change bytes, and therefore signatures, so they are reproduced here:

* object keys: integer-like keys ("0", "7", "42": canonical array indices)
  come first in numeric order, then the rest sorted by UTF-16 code units
  (what `Array.prototype.sort` compares);
* numbers print as `Number.prototype.toString` does: `1.0` -> `1`,
  `1e-7` -> `1e-7`, `1e21` -> `1e+21`, `-0` -> `0`, NaN/Infinity -> `null`;
* a lone surrogate in a string is written as a `\\udXXX` escape.

Known limit: Python integers are written exactly; JavaScript would round an
integer beyond 2**53 to the nearest double.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HMAC_HEADER = "X-Nango-Hmac-Sha256"
LEGACY_HEADER = "X-Nango-Signature"
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


def _write(value: Any, out: list[str], sort: bool = True) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_js_string(value))
    elif isinstance(value, int):
        out.append(str(value))
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
            _write(value[key], out, sort)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, sort)
        out.append("]")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__} as JSON")


def stable_stringify(value: Any) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def serialize(value: Any) -> bytes:
    """The exact bytes Nango would sign and send for `value`."""
    return stable_stringify(value).encode("utf-8", "surrogatepass")


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)` without sorting: keys in insertion order (as parsed)."""
    out: list[str] = []
    _write(value, out, sort=False)
    return "".join(out)


# ---------------------------------------------------------------- signatures


def hmac_signature(key: str, body: bytes) -> str:
    """`X-Nango-Hmac-Sha256`: hex HMAC-SHA256 of the body, keyed by the signing key."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def legacy_signature(key: str, body: bytes) -> str:
    """`X-Nango-Signature`: hex SHA-256 of key + body (legacy; length-extendable)."""
    return hashlib.sha256(key.encode("utf-8") + body).hexdigest()


SIGN_MODES = ("both", "none", "bad", "legacy-only", "hmac-only")


def signature_headers(key: str, body: bytes, mode: str = "both") -> dict[str, str]:
    """The signature headers for `body` under a signing mode.

    `bad` signs a different body so both headers are well-formed but wrong;
    the others drop one or both headers, for testing how a receiver reacts.
    """
    if mode == "none":
        return {}
    if mode == "bad":
        body = body + b" "
    headers: dict[str, str] = {}
    if mode in ("both", "bad", "hmac-only"):
        headers[HMAC_HEADER] = hmac_signature(key, body)
    if mode in ("both", "bad", "legacy-only"):
        headers[LEGACY_HEADER] = legacy_signature(key, body)
    if mode not in SIGN_MODES:
        raise ValueError(f"unknown signing mode {mode!r}")
    return headers


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one signature header."""

    header: str
    state: str  # "valid" | "invalid" | "missing" | "no-key"
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "valid"


def _same_digest(expected: str, received: str) -> bool:
    """Constant-time comparison that also takes a header with non-ASCII junk in it."""
    candidate = received.strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected.encode("ascii"), candidate)


def _find_header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def explain_mismatch(
    key: str, body: bytes, received: str, sign: Any, other_keys: tuple[str, ...]
) -> str:
    """Best guess at why a signature does not match `body`."""
    received = received.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", received):
        return "the header is not a 64-character hex digest"
    for other in other_keys:
        if other and other != key and hmac.compare_digest(sign(other, body), received):
            return "signed with a different key (it matches another environment's key)"
    stripped = body.rstrip(b"\r\n \t")
    if stripped != body and hmac.compare_digest(sign(key, stripped), received):
        return "trailing whitespace or a newline was added to the body after signing"
    try:
        parsed = json.loads(body)
        candidates = (serialize(parsed), js_stringify(parsed).encode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        return "the body is not JSON; it was altered or signed with a different key"
    except RecursionError:
        return "signed with a different key, or the body was altered"
    for candidate in candidates:
        if candidate != body and hmac.compare_digest(sign(key, candidate), received):
            return (
                "the body was re-serialized after signing (pretty-printed or keys reordered); "
                "verify the raw request bytes"
            )
    return "signed with a different key, or the body was altered"


def verify_headers(
    key: str | None,
    body: bytes,
    headers: Mapping[str, str],
    other_keys: tuple[str, ...] = (),
) -> tuple[Verdict, Verdict]:
    """Verdicts for the HMAC and the legacy header of a received request."""
    verdicts = []
    for header, sign in ((HMAC_HEADER, hmac_signature), (LEGACY_HEADER, legacy_signature)):
        received = _find_header(headers, header)
        if received is None:
            verdicts.append(Verdict(header, "missing"))
        elif not key:
            verdicts.append(Verdict(header, "no-key", "no signing key configured"))
        elif _same_digest(sign(key, body), received):
            verdicts.append(Verdict(header, "valid"))
        else:
            reason = explain_mismatch(key, body, received, sign, other_keys)
            verdicts.append(Verdict(header, "invalid", reason))
    return verdicts[0], verdicts[1]
