"""Nango's domain vocabulary: webhook types, sync types, auth operations and modes.

One place for the names Nango uses on the wire (read from @nangohq/types
0.71.10; docs/protocol.md describes each), so a typo is a mypy error rather
than a webhook Nango would never send.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

WebhookType = Literal["sync", "auth", "forward", "async_action"]
WEBHOOK_TYPES: Final = get_args(WebhookType)

SyncType = Literal["INITIAL", "INCREMENTAL", "WEBHOOK"]
SYNC_TYPES: Final = get_args(SyncType)

AuthOperation = Literal["creation", "override", "refresh", "deletion", "unknown"]
AUTH_OPERATIONS: Final = get_args(AuthOperation)
# What `fire --auth` offers: "unknown" is a value receivers must tolerate, not an event.
FIREABLE_AUTH_OPERATIONS: Final = ("creation", "override", "refresh", "deletion")

AUTH_MODES: Final = (
    "OAUTH1",
    "OAUTH2",
    "OAUTH2_CC",
    "BASIC",
    "API_KEY",
    "CUSTOM",
    "APP",
    "NONE",
    "TBA",
    "JWT",
    "BILL",
    "TWO_STEP",
    "SIGNATURE",
    "MCP_OAUTH2",
    "MCP_OAUTH2_GENERIC",
    "INSTALL_PLUGIN",
    "AWS_SIGV4",
    # Sent when the connection's integration could no longer be resolved (deleted).
    "unknown",
)

RecordAction = Literal["ADDED", "UPDATED", "DELETED"]

# JavaScript numbers: integers beyond this are not exact (Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER: Final = 2**53 - 1

HMAC_HEADER: Final = "X-Nango-Hmac-Sha256"
LEGACY_HEADER: Final = "X-Nango-Signature"

# Headers Nango drops when it forwards an external API's webhook: every header
# whose lowercased name starts with one of these.
# Headers that describe one hop of a request (RFC 9110 §7.6.1) or its framing, not a
# webhook: never replayed, proxied or forwarded as they were (the sender computes its
# own; Transfer-Encoding beside Content-Length is refused by Node.js, RFC 9112 §6.1).
HOP_BY_HOP: Final = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-connection",
    }
)

FORWARD_DROPPED_PREFIXES: Final = (
    "host",
    "authorization",
    "connection",
    "keep-alive",
    "content-length",
    "content-type",
    "content-encoding",
    "cookie",
    "set-cookie",
    "referer",
    "user-agent",
    "sec-",
    "proxy-",
    "www-authenticate",
    "server",
)

# Nango's delivery defaults (NANGO_WEBHOOK_* in its server).
TIMEOUT_S: Final = 20.0
RETRY_ATTEMPTS: Final = 2
BREAKER_FAILURE_THRESHOLD: Final = 5
BREAKER_WINDOW_S: Final = 10.0
BREAKER_COOLDOWN_S: Final = 60.0

# What Nango's server sends with every webhook, besides the signatures (axios on
# Node.js; see docs/protocol.md, Transport).
NANGO_VERSION: Final = "0.71.10"
USER_AGENT: Final = f"nango/{NANGO_VERSION} (linux/6.8.0; node.js/20.18.0)"
ACCEPT: Final = "application/json, text/plain, */*"
ACCEPT_ENCODING: Final = "gzip, compress, deflate, br"
# Nango's agent sends `Connection: close`. nango-hooks sends keep-alive on every
# path, so load mode can reuse connections (with close, the load client tops out
# near 2,700 requests/s here; docs/dependencies.md) and a single `fire` puts the
# same headers on the wire as `fire --count 1`. A single fire still uses one
# connection per attempt and closes it.
CONNECTION: Final = "keep-alive"

# The fields of each webhook body as @nangohq/types 0.71.10 declares them, for
# `--set`: a leaf is None, an object with known fields a dict, and ANY_FIELDS an
# object whose keys are free (tags, checkpoint records, forwarded payloads).
ANY_FIELDS: Final = "*"
_ERROR = {"type": None, "description": None, "payload": ANY_FIELDS}
BODY_FIELDS: Final[dict[str, dict[str, object]]] = {
    "sync": {
        "from": None,
        "type": None,
        "connectionId": None,
        "providerConfigKey": None,
        "syncName": None,
        "syncVariant": None,
        "model": None,
        "checkpoints": {"from": ANY_FIELDS, "to": ANY_FIELDS},
        "syncType": None,
        "success": None,
        "modifiedAfter": None,
        "responseResults": {"added": None, "updated": None, "deleted": None},
        "queryTimeStamp": None,
        "error": {**_ERROR, "additional_properties": ANY_FIELDS},
        "startedAt": None,
        "failedAt": None,
    },
    "auth": {
        "from": None,
        "type": None,
        "connectionId": None,
        "authMode": None,
        "providerConfigKey": None,
        "provider": None,
        "environment": None,
        "operation": None,
        "tags": ANY_FIELDS,
        "endUser": {
            "endUserId": None,
            "organizationId": None,
            "endUserEmail": None,
            "tags": ANY_FIELDS,
        },
        "success": None,
        "error": _ERROR,
    },
    "forward": {
        "from": None,
        "type": None,
        "connectionId": None,
        "providerConfigKey": None,
        "payload": ANY_FIELDS,
    },
    "async_action": {
        "from": None,
        "type": None,
        "connectionId": None,
        "providerConfigKey": None,
        "payload": {"id": None, "statusUrl": None},
    },
}
