"""The one path every webhook takes: outbox -> deliver -> record.

Webhooks are committed to the store before the first byte is sent (so a
crash never loses one), then delivered by the retry loop (delivery/retry.py)
over a sender, every attempt recorded as it happens. `fire`, `check`,
`replay` and the listener's external mode use `execute`; load mode
(app/load.py) uses the same records and the same loop over its own transport.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nango_cli.delivery.history_rows import (
    DELIVERED,
    FAILED,
    INTERRUPTED,
    SENDING,
    AttemptRecord,
    WebhookRecord,
    new_id,
)
from nango_cli.delivery.retry import DeliveryResult, RetryPolicy, delivery_steps, run_steps
from nango_cli.delivery.transport import Sender, TLSOptions
from nango_cli.support.timefmt import now_timestamp

if TYPE_CHECKING:
    # Only a type here: the breaker is built where a plan needs one (app/plans.py).
    from nango_cli.delivery.breaker import CircuitBreaker


class Journal(Protocol):
    """Where the outbox writes (the history store): every webhook before it is sent,
    then each attempt as it happens, then the webhook's outcome."""

    def record_webhooks(
        self,
        webhooks: Sequence[WebhookRecord],
        attempts: Sequence[tuple[str, AttemptRecord]] = (),
    ) -> None: ...

    def record_attempt(self, webhook_id: str, attempt: AttemptRecord) -> None: ...

    def finish_webhook(self, webhook_id: str, status: str) -> None: ...


@dataclass
class PlannedWebhook:
    """One webhook about to be sent: its exact bytes and headers, where it goes, and
    the fields the history indexes."""

    type: str | None
    body: bytes
    headers: dict[str, str]
    targets: list[str] = field(default_factory=list)
    sync_name: str | None = None
    model: str | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None
    replay_of: str | None = None
    # A deliberate negative test (a bad, missing or partial signature): stored as such,
    # and `replay --failed` leaves it alone. With `expect_rejection` (bad or missing
    # signature) a 4xx is the right answer and a 2xx a failure of the handler.
    negative: bool = False
    expect_rejection: bool = False
    # A correctly signed copy sent with deliberate negatives, so their rejection can be
    # judged: a handler that refuses everything refuses this one too.
    control: bool = False

    @classmethod
    def for_body(
        cls, body: Any, data: bytes, headers: dict[str, str], targets: list[str] | None = None
    ) -> PlannedWebhook:
        """A webhook sending `data`, described by the fields of `body` when it is an object."""
        obj = body if isinstance(body, dict) else {}

        def text(name: str) -> str | None:
            value = obj.get(name)
            return value if isinstance(value, str) else None

        return cls(
            type=text("type"),
            body=data,
            headers=headers,
            targets=list(targets or []),
            sync_name=text("syncName"),
            model=text("model"),
            connection_id=text("connectionId"),
            provider_config_key=text("providerConfigKey"),
        )

    @property
    def label(self) -> str:
        return label_of(self.type, self.sync_name, self.model)


@dataclass
class DeliveryPlan:
    """What a command is about to send, and how (retry policy, deadline, breaker, TLS)."""

    webhooks: list[PlannedWebhook]
    policy: RetryPolicy
    timeout: float
    env: str
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    breaker: CircuitBreaker | None = None
    tls: TLSOptions = field(default_factory=TLSOptions)

    @property
    def targets(self) -> list[str]:
        """Every target of the plan, in order of first use."""
        seen: dict[str, None] = {}
        for webhook in self.webhooks:
            seen.update(dict.fromkeys(webhook.targets))
        return list(seen)


@dataclass
class AttemptEvent:
    webhook_id: str
    label: str
    attempt: AttemptRecord
    reason: str


@dataclass
class SentWebhook:
    record: WebhookRecord
    result: DeliveryResult | None = None

    @property
    def delivered(self) -> bool:
        return self.result is not None and self.result.delivered

    @property
    def attempts(self) -> list[AttemptRecord]:
        return self.result.attempts if self.result else []

    @property
    def label(self) -> str:
        return label_of(self.record.type, self.record.sync_name, self.record.model)

    @property
    def expects_rejection(self) -> bool:
        return self.record.meta.get("expect") == "rejection"

    def to_dict(self) -> dict[str, Any]:
        data = self.record.summary()
        data["status"] = (
            DELIVERED if self.delivered else (FAILED if self.result else self.record.status)
        )
        attempts = self.attempts
        data["attempt_count"] = len(attempts)
        if attempts:
            data["last_status_code"] = attempts[-1].status_code
            data["latency_ms"] = attempts[-1].latency_ms
        data["headers"] = self.record.headers
        data["body"] = self.record.body.decode("utf-8", "replace")
        data["attempts"] = [a.to_dict() for a in attempts]
        return data


def label_of(kind: str | None, sync_name: str | None, model: str | None) -> str:
    """`sync github-issues/GithubIssue`, or the type alone (`auth`, `body`), never `None`."""
    if kind == "sync" and (sync_name or model):
        return "sync " + "/".join(part or "?" for part in (sync_name, model))
    return kind or "body"


def _meta(webhook: PlannedWebhook) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if webhook.expect_rejection:
        meta["expect"] = "rejection"
    if webhook.control:
        meta["control"] = True
    return meta


def to_records(webhooks: list[PlannedWebhook], env: str) -> list[WebhookRecord]:
    return [
        WebhookRecord(
            id=new_id(),
            created_at=now_timestamp(),
            direction="sent",
            env=env,
            type=w.type,
            body=w.body,
            headers=w.headers,
            status=SENDING,
            sync_name=w.sync_name,
            model=w.model,
            connection_id=w.connection_id,
            provider_config_key=w.provider_config_key,
            targets=list(w.targets),
            replay_of=w.replay_of,
            negative=w.negative,
            meta=_meta(w),
        )
        for w in webhooks
    ]


def execute(
    plan: DeliveryPlan,
    store: Journal,
    on_event: Callable[[AttemptEvent], None],
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    concurrent: bool = True,
) -> list[SentWebhook]:
    """Record every webhook first (the outbox), then deliver each to its targets."""
    records = to_records(plan.webhooks, plan.env)
    store.record_webhooks(records)
    return deliver_recorded(
        records, [w.label for w in plan.webhooks], plan, store, on_event, sender, sleep, concurrent
    )


def deliver_recorded(
    records: list[WebhookRecord],
    labels: list[str],
    plan: DeliveryPlan,
    store: Journal,
    on_event: Callable[[AttemptEvent], None],
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    concurrent: bool = True,
) -> list[SentWebhook]:
    """Deliver webhooks already committed to the store; concurrently when several
    (unless `concurrent` is false, as for a replay, which keeps the original order).

    Nango sends a sync's per-model webhooks at once, in no order; so do we.
    Worker threads are daemons so Ctrl-C ends the process at once; rows still
    `sending` are then marked interrupted.
    """
    own_sender = sender is None
    if sender is None:
        from nango_cli.delivery.httpx_sender import HttpxSender

        sender = HttpxSender(plan.tls)
    sent = [SentWebhook(r) for r in records]
    lock = threading.Lock()

    def run(item: SentWebhook, label: str) -> None:
        def on_attempt(attempt: AttemptRecord, reason: str) -> None:
            store.record_attempt(item.record.id, attempt)
            with lock:
                on_event(AttemptEvent(item.record.id, label, attempt, reason))

        record = item.record
        steps = delivery_steps(record.targets, plan.policy, on_attempt, plan.breaker)
        assert sender is not None
        item.result = run_steps(
            steps,
            lambda target: sender.send(target, record.body, record.headers, plan.timeout),
            sleep,
        )
        store.finish_webhook(record.id, DELIVERED if item.result.delivered else FAILED)

    pairs = list(zip(sent, labels, strict=True))
    try:
        # A control is sent and answered before the negatives it vouches for: the
        # handler is judged on a valid webhook it saw first, as the report says.
        while pairs and pairs[0][0].record.meta.get("control"):
            run(*pairs.pop(0))
        if len(pairs) <= 1 or not concurrent:
            for item, label in pairs:
                run(item, label)
        else:
            errors: list[BaseException] = []

            def guarded(item: SentWebhook, label: str) -> None:
                try:
                    run(item, label)
                except BaseException as exc:  # re-raised in the main thread
                    errors.append(exc)

            threads = [
                threading.Thread(target=guarded, args=(item, label), daemon=True)
                for item, label in pairs
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.05)
            if errors:
                raise errors[0]
    except BaseException:
        for item in sent:
            if item.result is None:
                store.finish_webhook(item.record.id, INTERRUPTED)
        raise
    finally:
        if own_sender:
            sender.close()
    return sent
