"""Webhook signatures: making them, checking them, and explaining a mismatch (pure).

`X-Nango-Hmac-Sha256` is the hex HMAC-SHA256 of the body; the legacy
`X-Nango-Signature` the hex SHA-256 of key + body. A `KeyRing` holds the keys
a webhook may be verified with (the current and, during a rotation, the
previous signing key) and those that explain a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from nango_cli.protocol.serialization import js_stringify, parse_json, serialize
from nango_cli.protocol.vocabulary import HMAC_HEADER, LEGACY_HEADER


class KeyRing(NamedTuple):
    """The keys a webhook may be verified with, and those that explain a mismatch.

    `current` and `previous` both verify (after a rotation Nango signs with either
    for up to 5 minutes); `secret` is the API secret key, which newer environments
    do not sign webhooks with; `others` are other environments' signing keys, each a
    key or a (name, key) pair, so a mismatch can name the environment that signed.
    """

    current: str | None = None
    previous: str | None = None
    secret: str | None = None
    others: tuple[str | tuple[str, str], ...] = ()

    def named_others(self) -> list[tuple[str | None, str]]:
        return [(o[0], o[1]) if isinstance(o, tuple) else (None, o) for o in self.others]


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


HeaderState = Literal["valid", "invalid", "missing", "no-key"]


class HeaderCheck(NamedTuple):
    """The outcome of checking one signature header."""

    header: str
    state: HeaderState
    reason: str | None = None
    # Which key made it valid: "current", or "previous" (inside a rotation window).
    matched: str | None = None

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


SECRET_KEY_DIAGNOSIS = (
    "signed with the API secret key, not the webhook signing key: environments created "
    "after 2026-04-20 (or that rotated their API key) sign with a dedicated webhook signing "
    "key (Environment Settings > Webhooks)"
)


def explain_mismatch(key: str, body: bytes, received: str, sign: Any, keys: KeyRing) -> str:
    """Best guess at why a signature does not match `body`."""
    received = received.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", received):
        return "the header is not a 64-character hex digest"
    if (
        keys.secret
        and keys.secret != key
        and hmac.compare_digest(sign(keys.secret, body), received)
    ):
        return SECRET_KEY_DIAGNOSIS
    for name, other in keys.named_others():
        if other and other != key and hmac.compare_digest(sign(other, body), received):
            if name:
                return f"signed with a different key: the signing key of environment {name!r}"
            return "signed with a different key (it matches another environment's key)"
    stripped = body.rstrip(b"\r\n \t")
    if stripped != body and hmac.compare_digest(sign(key, stripped), received):
        return "trailing whitespace or a newline was added to the body after signing"
    try:
        parsed = parse_json(body)
        candidates = (serialize(parsed), js_stringify(parsed).encode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        return "the body is not JSON; it was altered or signed with a different key"
    for candidate in candidates:
        if candidate != body and hmac.compare_digest(sign(key, candidate), received):
            return (
                "the body was re-serialized after signing (pretty-printed or keys reordered); "
                "verify the raw request bytes"
            )
    return "signed with a different key, or the body was altered"


def verify_headers(
    keys: KeyRing | str | None,
    body: bytes,
    headers: Mapping[str, str],
    other_keys: tuple[str | tuple[str, str], ...] = (),
) -> tuple[HeaderCheck, HeaderCheck]:
    """Verdicts for the HMAC and the legacy header of a received request; either the
    current or (in a rotation window) the previous signing key makes one valid."""
    if not isinstance(keys, KeyRing):
        keys = KeyRing(current=keys, others=other_keys)
    verdicts = []
    for header, sign in ((HMAC_HEADER, hmac_signature), (LEGACY_HEADER, legacy_signature)):
        received = _find_header(headers, header)
        if received is None:
            verdicts.append(HeaderCheck(header, "missing"))
            continue
        if not keys.current and not keys.previous:
            verdicts.append(HeaderCheck(header, "no-key", "no signing key configured"))
            continue
        matched = None
        if keys.current and _same_digest(sign(keys.current, body), received):
            matched = "current"
        elif keys.previous and _same_digest(sign(keys.previous, body), received):
            matched = "previous"
        if matched is not None:
            reason = "previous key: rotation window" if matched == "previous" else None
            verdicts.append(HeaderCheck(header, "valid", reason, matched))
        else:
            key = keys.current or keys.previous or ""
            reason = explain_mismatch(key, body, received, sign, keys)
            verdicts.append(HeaderCheck(header, "invalid", reason))
    return verdicts[0], verdicts[1]


class Verification(NamedTuple):
    """What `verify` found: the verdict of each header, and one for the webhook."""

    hmac: HeaderCheck
    legacy: HeaderCheck

    @property
    def valid(self) -> bool:
        """The HMAC header decides; a request with only the legacy header is not valid."""
        return self.hmac.ok

    @property
    def state(self) -> str:
        """valid, invalid, missing, no-key, or legacy-only."""
        if self.hmac.state == "missing" and self.legacy.state == "valid":
            return "legacy-only"
        return self.hmac.state

    @property
    def matched(self) -> str | None:
        """Which key made it valid: "current", or "previous" (a rotation window)."""
        return self.hmac.matched

    @property
    def explanation(self) -> str | None:
        """Why it is not valid, when that can be told (None when valid)."""
        if self.valid:
            return self.hmac.reason  # "previous key: rotation window", or None
        if self.state == "legacy-only":
            return "only the legacy X-Nango-Signature header: verify X-Nango-Hmac-Sha256 instead"
        if self.hmac.state == "missing":
            return "no X-Nango-Hmac-Sha256 header"
        return self.hmac.reason or self.legacy.reason


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: str | Sequence[str] | KeyRing | None,
) -> Verification:
    """Check a received webhook's signatures over its raw `body`. `key` is the signing
    key, or several (during a rotation Nango signs with either the new or the previous
    key for up to 5 minutes), or a KeyRing (which can also explain a key mix-up)."""
    if isinstance(key, KeyRing):
        return Verification(*verify_headers(key, body, headers))
    keys = [key] if isinstance(key, str) or key is None else list(key)
    if len(keys) <= 2:
        ring = KeyRing(
            current=keys[0] if keys else None, previous=keys[1] if len(keys) > 1 else None
        )
        return Verification(*verify_headers(ring, body, headers))
    for index, candidate in enumerate(keys):
        others = tuple(k for k in keys if k and k != candidate)
        found = Verification(
            *verify_headers(KeyRing(current=candidate, others=others), body, headers)
        )
        if found.valid or index == len(keys) - 1:
            return found
    raise AssertionError("unreachable")
