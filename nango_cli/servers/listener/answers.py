"""Verification and answers: what the listener makes of a webhook's bytes, what it
answers, and the row it stores.

An encoded body (Content-Encoding) is stored as received, verified on those bytes and
forwarded unchanged; it is decoded, within the body cap, only to be shown and checked.
"""

from __future__ import annotations

from typing import Any

from nango_cli.delivery.history_rows import RECEIVED, WebhookRecord
from nango_cli.protocol import schema
from nango_cli.servers.listener.events import ListenOptions, ReceivedEvent

RECEIVED_BODY = b'{"received": true}'


def answer(options: ListenOptions, seen: int, valid: bool) -> tuple[int, bytes]:
    """The status and body the listener answers its `seen`-th webhook with."""
    if options.reject_invalid and not valid:
        return 401, b'{"error": "invalid signature"}'
    if seen <= options.fail_first:
        return 500, f'{{"error": "--fail-first: failing request {seen}"}}'.encode()
    return options.status, RECEIVED_BODY


def record_of(event: ReceivedEvent, env: str, external: bool) -> WebhookRecord:
    """The history row of a received webhook: its bytes, headers and verdicts."""
    summary = event.summary_fields()
    meta: dict[str, Any] = {
        "signature": event.signature_state,
        "verdicts": {
            "hmac": [event.hmac.state, event.hmac.reason],
            "legacy": [event.legacy.state, event.legacy.reason],
        },
        "schema": [n.to_dict() for n in event.notes],
        "method": event.method,
        "path": event.path,
        "answered": event.answered,
    }
    if event.content_encoding:
        meta["content_encoding"] = event.content_encoding
    if event.filtered:
        meta["filtered"] = True
    if event.forward:
        meta["forward"] = event.forward.to_dict()
    if event.external_ids:
        meta["external_forwards"] = event.external_ids

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    return WebhookRecord(
        id=event.id,
        created_at=event.created_at,
        direction="received",
        env=env,
        type=summary["type"] if not external else "external",
        body=event.body,
        headers=event.headers,
        status=RECEIVED,
        sync_name=text(summary["sync_name"]),
        model=text(summary["model"]),
        connection_id=text(summary["connection_id"]),
        provider_config_key=text(summary["provider_config_key"]),
        meta=meta,
    )


def decode_body(
    body: bytes, encoding: str | None, limit: int
) -> tuple[bytes | None, schema.Note | None]:
    """A Content-Encoding'd body decoded for showing and checking (never for verifying:
    signatures are over the bytes received), within `limit` bytes."""
    if not encoding or encoding.strip().lower() in ("", "identity"):
        return None, None
    name = encoding.strip().lower()
    import zlib

    if name in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif name == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        return None, schema.Note(
            "warning", f"body is {encoding}-encoded: shown as received, not decoded"
        )
    try:
        decoder = zlib.decompressobj(wbits)
        decoded = decoder.decompress(body, limit)
        if decoder.unconsumed_tail:
            return None, schema.Note("problem", f"decoded body is larger than {limit} bytes")
    except zlib.error:
        if name == "deflate":  # some senders send raw deflate, without the zlib header
            try:
                decoded = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, limit)
            except zlib.error:
                return None, schema.Note("problem", f"body is not valid {encoding} data")
        else:
            return None, schema.Note("problem", f"body is not valid {encoding} data")
    return decoded, schema.Note(
        "info", f"body is {encoding}-encoded ({len(body)} bytes): stored and verified as received"
    )
