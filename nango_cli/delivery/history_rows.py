"""What a delivery leaves behind: the webhook as sent or received, and each attempt.

The vocabulary the outbox writes and the store keeps (storage/ imports it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

if TYPE_CHECKING:
    import random


# The part of a response body an attempt keeps.
RESPONSE_BODY_CAP = 64 * 1024

# Statuses of a webhook row.
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"
INTERRUPTED = "interrupted"
RECEIVED = "received"

Outcome = Literal["success", "http_error", "network_error"]


ErrorClass = Literal[
    "reset",
    "timeout",
    "aborted",
    "refused",
    "unreachable",
    "dns",
    "tls",
    "protocol",
    "redirects",
    "url",
    "proxy",
    "network",
    "circuit_breaker_open",
]
ERROR_CLASSES: Final = get_args(ErrorClass)


# Ids must be unique, not secret: a seeded PRNG is ~100x cheaper than a urandom call per id,
# which matters at thousands of webhooks a second. A collision is retried on insert.
_ids: random.Random | None = None


def new_id() -> str:
    global _ids
    if _ids is None:
        import random

        _ids = random.Random(os.urandom(16))
    return f"{_ids.getrandbits(48):012x}"


@dataclass
class AttemptRecord:
    target: str
    number: int
    started_at: str
    outcome: Outcome
    status_code: int | None = None
    latency_ms: float | None = None
    error_class: ErrorClass | None = None
    error: str | None = None
    will_retry: bool = False
    wait_s: float | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    response_truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    note: str | None = None

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target,
            "number": self.number,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "error_class": self.error_class,
            "error": self.error,
            "will_retry": self.will_retry,
            "wait_s": self.wait_s,
            "redirects": self.redirects,
            "note": self.note,
        }
        if include_body:
            data["response_headers"] = self.response_headers
            data["response_body"] = self.response_body.decode("utf-8", "replace")
            data["response_truncated"] = self.response_truncated
        return data


@dataclass
class WebhookRecord:
    id: str
    created_at: str
    direction: str
    env: str | None
    type: str | None
    body: bytes
    headers: dict[str, str]
    status: str
    sync_name: str | None = None
    model: str | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None
    targets: list[str] = field(default_factory=list)
    attempt_count: int = 0
    last_status_code: int | None = None
    latency_ms: float | None = None
    replay_of: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    negative: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "direction": self.direction,
            "env": self.env,
            "type": self.type,
            "sync_name": self.sync_name,
            "model": self.model,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "targets": self.targets,
            "status": self.status,
            "attempt_count": self.attempt_count,
            "last_status_code": self.last_status_code,
            "latency_ms": self.latency_ms,
            "replay_of": self.replay_of,
            "negative": self.negative,
        }
