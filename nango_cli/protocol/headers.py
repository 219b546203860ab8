"""The headers Nango's server puts on a webhook, and how header layers merge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from nango_cli.errors import UsageError
from nango_cli.protocol import vocabulary
from nango_cli.protocol.signatures import SIGN_MODES, signature_headers

HOP_BY_HOP: Final = vocabulary.HOP_BY_HOP


def refuse_hop_by_hop(names: Iterable[str], where: str) -> None:
    """A UsageError for a header the user gave that describes one hop, not a webhook."""
    for name in names:
        if name.strip().lower() in HOP_BY_HOP:
            raise UsageError(
                f"{where}: {name} describes one hop of a request, not the webhook",
                hint="nango-hooks frames each request itself (Content-Length); drop it",
            )


def wire_headers() -> dict[str, str]:
    """The headers Nango's server sends with every webhook, besides the signatures."""
    return {
        "accept": vocabulary.ACCEPT,
        "content-type": "application/json",
        "user-agent": vocabulary.USER_AGENT,
        "accept-encoding": vocabulary.ACCEPT_ENCODING,
        "connection": vocabulary.CONNECTION,
    }


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Merge header layers, later ones winning, with names compared case-insensitively
    (as axios does): `X-Nango-Hmac-Sha256: spoofed` from an external webhook cannot
    sit beside the real signature. The winning layer's spelling of a name is kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def without(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def check_header_values(headers: Mapping[str, str]) -> str | None:
    """Why these headers cannot be sent, or None. Values must be printable Latin-1 (what
    Node.js, and so Nango, accepts); names must be HTTP tokens."""
    for name, value in headers.items():
        if not name or any(c in '()<>@,;:\\"/[]?={} \t' or not 32 < ord(c) < 127 for c in name):
            return f"header name {name!r} is not a valid HTTP token"
        if any(not (ord(c) == 9 or 32 <= ord(c) <= 126 or 128 <= ord(c) <= 255) for c in value):
            return f"header {name!r} has a value with characters HTTP cannot carry"
    return None


def signed_headers(
    body: bytes,
    signing_key: str | None,
    sign: str = "both",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Nango's wire headers and the signatures for `body`, over `extra` headers (an
    external API's, for a forward): names compare without case, and Nango's own win."""
    if sign not in SIGN_MODES:
        raise UsageError(f"invalid sign mode {sign!r}", hint="use one of: " + ", ".join(SIGN_MODES))
    if not signing_key and sign != "none":
        raise UsageError(
            "signing_key is required to sign a webhook",
            hint="pass the environment's webhook signing key, or sign='none'",
        )
    return merge_headers(
        extra or {}, wire_headers(), signature_headers(signing_key or "", body, sign)
    )
