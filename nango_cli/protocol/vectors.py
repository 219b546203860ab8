"""Test vectors for Nango webhook verifiers in any language (`nango-hooks vectors`).

Each case: exact body bytes (text, and base64), the keys a verifier holds, the headers
it receives, and whether a correct verifier (HMAC-SHA256 of the raw body with any of
its keys, compared with X-Nango-Hmac-Sha256) must accept it, and why. Made by the
same serialization and signing code as every webhook nango-hooks sends, with fixed
keys and times so the document is the same on every run; nango-hooks' own tests
judge every case with Node's crypto and with `@nangohq/node`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from nango_cli.protocol import bodies
from nango_cli.protocol.headers import merge_headers, wire_headers
from nango_cli.protocol.serialization import serialize
from nango_cli.protocol.signatures import hmac_signature, legacy_signature
from nango_cli.protocol.vocabulary import HMAC_HEADER, LEGACY_HEADER

VERSION = 1
# Fixed, so the document never changes between runs (shaped like Nango's keys).
KEY = "7d3b4f62-9a1e-4c8d-b5f0-2e6a91c4d8f3"
PREVIOUS_KEY = "0c9e8d7a-6b5f-4e3d-a2c1-b0f9e8d7c6b5"
OTHER_KEY = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
SECRET_KEY = "sk-5e0f4c2a-8b1d-4f6e-9a3c-7d2b1e0f4a6c"
AT = "2026-11-02T09:30:00.000Z"
LATER = "2026-11-02T09:31:12.345Z"


def _case(
    name: str,
    body: bytes,
    why: str,
    valid: bool,
    signed_with: str | None = KEY,
    sign: str = "both",
    keys: tuple[str, ...] = (KEY, PREVIOUS_KEY),
    deliver: bytes | None = None,
) -> dict[str, Any]:
    """One case: `body` signed with `signed_with` (headers per `sign`), then `deliver`
    (the bytes the verifier receives, when they differ from what was signed)."""
    received = body if deliver is None else deliver
    signatures: dict[str, str] = {}
    if signed_with is not None and sign in ("both", "hmac-only"):
        signatures[HMAC_HEADER] = hmac_signature(signed_with, body)
    if signed_with is not None and sign in ("both", "legacy-only"):
        signatures[LEGACY_HEADER] = legacy_signature(signed_with, body)
    try:
        text: str | None = received.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "name": name,
        "valid": valid,
        "why": why,
        "keys": list(keys),
        "body": text,
        "body_base64": base64.b64encode(received).decode("ascii"),
        "headers": merge_headers(wire_headers(), signatures),
        "x_nango_hmac_sha256": signatures.get(HMAC_HEADER),
        "x_nango_signature": signatures.get(LEGACY_HEADER),
    }


def _sync() -> bytes:
    return serialize(
        bodies.sync_success(
            connection_id="c-vectors",
            provider_config_key="github",
            sync_name="github-issues",
            model="GithubIssue",
            modified_after=AT,
            added=3,
            updated=1,
            deleted=1,
        )
    )


def cases() -> list[dict[str, Any]]:
    sync = _sync()
    auth: dict[str, Any] = {
        "connection_id": "c-vectors",
        "provider_config_key": "github",
        "provider": "github",
        "environment": "dev",
    }
    every_type = [
        ("sync", sync, "a sync completion, as Nango sends one per model"),
        (
            "sync-error",
            serialize(
                bodies.sync_error(
                    connection_id="c-vectors",
                    provider_config_key="github",
                    sync_name="github-issues",
                    models=["GithubIssue", "GithubComment"],
                    description="The sync script failed",
                    started_at=AT,
                    failed_at=LATER,
                )
            ),
            "a failed sync",
        ),
        (
            "auth-creation",
            serialize(
                bodies.auth(
                    **auth,
                    operation="creation",
                    end_user={"endUserId": "u-42", "tags": {"team": "core"}},
                )
            ),
            "a connection created through a Connect session (with endUser)",
        ),
        (
            "auth-refresh-failed",
            serialize(
                bodies.auth(
                    **auth,
                    operation="refresh",
                    success=False,
                    error_description="invalid_grant",
                )
            ),
            "a token refresh that failed",
        ),
        ("auth-deletion", serialize(bodies.auth(**auth, operation="deletion")), "a deletion"),
        (
            "forward",
            serialize(
                bodies.forward(
                    provider="github",
                    provider_config_key="github",
                    connection_id="c-vectors",
                    payload={"action": "opened", "issue": {"number": 7}},
                )
            ),
            "an external API's webhook forwarded by Nango",
        ),
        (
            "async-action",
            serialize(
                bodies.async_action(
                    connection_id="c-vectors", provider_config_key="github", action_id="a-1"
                )
            ),
            "an async action's completion",
        ),
    ]
    found = [
        _case(f"type-{name}", body, f"{why}: signed with the current key", True)
        for name, body, why in every_type
    ]
    raw = "verify the raw bytes received: re-serializing the parsed JSON changes them"
    found += [
        _case(
            "non-ascii",
            serialize({"from": "nango", "type": "forward", "payload": {"name": "Zoë 東京 🚀"}}),
            "UTF-8 bytes; HMAC the bytes, not a re-encoded string",
            True,
        ),
        _case(
            "escaped-slash",
            b'{"from":"nango","payload":{"url":"https:\\/\\/example.com\\/a"},"type":"forward"}',
            f"the body has \\/ escapes: {raw} (to /)",
            True,
        ),
        _case(
            "number-1e21",
            b'{"from":"nango","payload":{"n":1e+21},"type":"forward"}',
            f"1e+21 as JavaScript prints it: {raw}",
            True,
        ),
        _case(
            "negative-zero",
            b'{"from":"nango","payload":{"n":-0},"type":"forward"}',
            f"-0: {raw} (many print 0 or -0.0)",
            True,
        ),
        _case(
            "integer-beyond-2-53",
            b'{"from":"nango","payload":{"id":9007199254740993},"type":"forward"}',
            f"an integer JavaScript cannot hold exactly: {raw}",
            True,
        ),
        _case(
            "integer-like-keys",
            b'{"2":"b","10":"c","from":"nango","payload":{},"type":"forward"}',
            f"integer-like keys (JavaScript orders them first): {raw}",
            True,
        ),
        _case(
            "lone-surrogate",
            b'{"from":"nango","payload":{"s":"\\ud800"},"type":"forward"}',
            "a lone surrogate escape (valid JSON, not valid UTF-16): verify before decoding",
            True,
        ),
        _case("empty-body", b"", "an empty body signed: the HMAC of zero bytes", True),
        _case(
            "previous-key",
            sync,
            "signed with the previous key: during a rotation Nango signs with either key "
            "for up to 5 minutes; a verifier holding both accepts it",
            True,
            signed_with=PREVIOUS_KEY,
        ),
        _case(
            "hmac-only",
            sync,
            "only X-Nango-Hmac-Sha256, valid: the header that matters",
            True,
            sign="hmac-only",
        ),
        _case(
            "previous-key-not-held",
            sync,
            "signed with a previous key the verifier no longer holds",
            False,
            signed_with=PREVIOUS_KEY,
            keys=(KEY,),
        ),
        _case("wrong-key", sync, "signed with a key the verifier does not hold", False, OTHER_KEY),
        _case(
            "secret-key",
            sync,
            "signed with the API secret key: Nango signs with the webhook signing key",
            False,
            SECRET_KEY,
        ),
        _case(
            "tampered-byte",
            sync,
            "one byte of the body changed after signing (3 added became 4)",
            False,
            deliver=sync.replace(b'"added":3', b'"added":4'),
        ),
        _case(
            "reserialized-whitespace",
            sync,
            "the same JSON with other whitespace: the signature is over the bytes Nango sent",
            False,
            deliver=json.dumps(json.loads(sync), indent=2).encode(),
        ),
        _case(
            "trailing-newline",
            sync,
            "a newline added after signing (an editor, a shell)",
            False,
            deliver=sync + b"\n",
        ),
        _case(
            "legacy-only",
            sync,
            "only X-Nango-Signature (SHA-256 of key + body, open to length extension): a "
            "correct verifier checks X-Nango-Hmac-Sha256",
            False,
            sign="legacy-only",
        ),
        _case("no-signature", sync, "no signature header at all", False, signed_with=None),
    ]
    return found


def document(version: str) -> dict[str, Any]:
    return {
        "format": "nango-hooks webhook signature test vectors",
        "version": VERSION,
        "generator": f"nango-hooks {version}",
        "verify": (
            "valid when X-Nango-Hmac-Sha256 equals the lowercase hex HMAC-SHA256 of the raw "
            "body bytes (body_base64) with any of the keys; compare in constant time"
        ),
        "headers": {
            HMAC_HEADER: "hex(HMAC-SHA256(key, body))",
            LEGACY_HEADER: "hex(SHA-256(key + body)), deprecated: do not rely on it",
        },
        "cases": cases(),
    }
