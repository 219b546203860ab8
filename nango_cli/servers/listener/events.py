"""What the listener reports: its options, each webhook received (`ReceivedEvent`),
what it forwarded, which webhooks it shows, and the summary when it stops.

The listener never prints: events and notices go to a callback (the CLI renders
them; tests and the demo collect them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.protocol import schema, vocabulary
from nango_cli.protocol.signatures import HeaderCheck, KeyRing
from nango_cli.servers.limits import (
    BODY_TIMEOUT_S,
    DEFAULT_BODY_BUDGET,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    IDLE_TIMEOUT_S,
    Limits,
)
from nango_cli.servers.skeleton import Notice

# The listener's notices are the skeleton's (kept under this name for its callers).
ListenerNotice = Notice


@dataclass(frozen=True)
class EventFilter:
    """Which webhooks `listen` prints, counts and forwards (all are answered and stored).

    Each list is a set of accepted values; an empty list accepts anything. A
    webhook matches when every non-empty list accepts it.
    """

    types: tuple[str, ...] = ()
    syncs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.types or self.syncs or self.models or self.connections)

    def matches(self, fields: dict[str, Any]) -> bool:
        def ok(accepted: tuple[str, ...], value: Any) -> bool:
            return not accepted or (isinstance(value, str) and value in accepted)

        # A sync error names all its models joined with commas: any one matches.
        model = fields.get("model")
        models = model.split(",") if isinstance(model, str) else [model]
        return (
            ok(self.types, fields.get("type"))
            and ok(self.syncs, fields.get("syncName"))
            and (not self.models or any(ok(self.models, m) for m in models))
            and ok(self.connections, fields.get("connectionId"))
        )


@dataclass
class ListenOptions:
    host: str = "127.0.0.1"
    port: int = 0  # any free one; `listen` passes the listen_port setting
    path: str | None = None
    keys: KeyRing = field(default_factory=KeyRing)
    status: int = 200
    fail_first: int = 0
    delay: float = 0.0
    reject_invalid: bool = False
    forward_to: str | None = None
    forward_timeout: float = vocabulary.TIMEOUT_S
    max_body: int = DEFAULT_MAX_BODY
    count: int | None = None
    timeout: float | None = None
    require_valid: bool = False
    env: str = "dev"
    filters: EventFilter = field(default_factory=EventFilter)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    body_budget: int = DEFAULT_BODY_BUDGET
    idle_timeout: float = IDLE_TIMEOUT_S
    body_timeout: float = BODY_TIMEOUT_S
    # Names besides its own address the listener answers to (a tunnel's host name).
    allowed_hosts: tuple[str, ...] = ()
    # external mode: play Nango for an external API's webhooks
    external: str | None = None
    integration: str | None = None
    connection_id: str | None = None
    trigger_sync: str | None = None
    # External mode refuses what a web page could send (an Origin header, a
    # CORS-safelisted content type) unless this is set.
    allow_browser: bool = False

    def limits(self) -> Limits:
        return Limits(
            max_connections=self.max_connections,
            idle_timeout=self.idle_timeout,
            body_timeout=self.body_timeout,
            max_body=self.max_body,
            body_budget=self.body_budget,
        )


@dataclass
class ForwardResult:
    """What the app answered when a webhook was proxied to it (one attempt, no retries)."""

    url: str
    attempt: AttemptRecord

    @property
    def status_code(self) -> int | None:
        return self.attempt.status_code

    @property
    def latency_ms(self) -> float:
        return self.attempt.latency_ms or 0.0

    @property
    def excerpt(self) -> str:
        return self.attempt.response_body[:200].decode("utf-8", "backslashreplace")

    @property
    def error(self) -> str | None:
        if self.attempt.error_class is None:
            return None
        return f"{self.attempt.error_class}: {self.attempt.error}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "excerpt": self.excerpt,
            "error": self.error,
            "attempt": self.attempt.to_dict(include_body=False),
        }


@dataclass
class ReceivedEvent:
    id: str
    created_at: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    hmac: HeaderCheck
    legacy: HeaderCheck
    notes: list[schema.Note]
    fields: dict[str, Any]
    answered: int
    forward: ForwardResult | None = None
    external_ids: list[str] = field(default_factory=list)
    content_encoding: str | None = None
    # The body decoded from its Content-Encoding, for showing and checking only.
    decoded: bytes | None = None
    # Left out by `listen --type/--sync/--model/--connection` (answered and stored).
    filtered: bool = False

    @property
    def signature_state(self) -> str:
        """One verdict for the webhook: the HMAC header decides; legacy-only is invalid."""
        if self.hmac.state == "missing" and self.legacy.state == "valid":
            return "legacy-only"
        return self.hmac.state

    @property
    def valid(self) -> bool:
        return self.hmac.ok

    @property
    def readable_body(self) -> bytes:
        return self.decoded if self.decoded is not None else self.body

    def summary_fields(self) -> dict[str, Any]:
        f = self.fields
        results = f.get("responseResults") if isinstance(f.get("responseResults"), dict) else None
        return {
            "type": f.get("type") if isinstance(f.get("type"), str) else None,
            "sync_name": f.get("syncName"),
            "model": f.get("model"),
            "operation": f.get("operation"),
            "connection_id": f.get("connectionId"),
            "provider_config_key": f.get("providerConfigKey"),
            "success": f.get("success"),
            "counts": results,
        }

    def to_dict(self, include_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "received_at": self.created_at,
            "method": self.method,
            "path": self.path,
            **self.summary_fields(),
            "size": len(self.body),
            "content_encoding": self.content_encoding,
            "signature": {
                "verdict": self.signature_state,
                "hmac": {
                    "state": self.hmac.state,
                    "reason": self.hmac.reason,
                    "matched": self.hmac.matched,
                },
                "legacy": {
                    "state": self.legacy.state,
                    "reason": self.legacy.reason,
                    "matched": self.legacy.matched,
                },
            },
            "schema": [n.to_dict() for n in self.notes],
            "answered": self.answered,
            "filtered": self.filtered,
            "forward": self.forward.to_dict() if self.forward else None,
            "external_forwards": self.external_ids,
        }
        if include_body:
            data["headers"] = self.headers
            data["body"] = self.readable_body.decode("utf-8", "backslashreplace")
        return data


@dataclass
class ListenSummary:
    received: int = 0
    valid: int = 0
    invalid: int = 0
    filtered: int = 0
    reason: str = "stopped"  # "count" | "timeout" | "invalid-signature" | "interrupted"
    # What was turned away or went wrong, by notice kind.
    notices: dict[str, int] = field(default_factory=dict)
