"""Load mode (`fire --count N`): many distinct signed webhooks, concurrently, recorded.

The transport is aiohttp's client (delivery/aiohttp_sender.py),
chosen by measurement (docs/dependencies.md); the retry loop, the attempt
contract, payload building, signing and recording are the ones a normal `fire`
uses. The webhooks are all committed to the store before the first is sent (the
outbox); attempts and outcomes are written in batches from the event loop, so a
crash can lose at most the attempts of the last quarter second, never a webhook
(those rows are then marked interrupted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.history_rows import (
    DELIVERED,
    FAILED,
    INTERRUPTED,
    AttemptRecord,
    WebhookRecord,
)
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook, to_records
from nango_cli.delivery.retry import delivery_steps, run_steps_async
from nango_cli.protocol import serialization, signatures, vocabulary
from nango_cli.protocol.headers import without
from nango_cli.storage.webhooks import Store

if TYPE_CHECKING:
    from nango_cli.delivery.aiohttp_sender import AiohttpSender

_FLUSH_EVERY_S = 0.25
_FLUSH_AT = 1000


# Markers a body template is serialized with, then replaced in its bytes: a number
# and a UUID-shaped string that real bodies do not contain (checked per template).
_COUNT_MARKER = 918273645546372
_ID_MARKER = "00000000-0000-4000-8000-0000918273fe"


class _Template:
    """A body serialized once, with the parts that vary between load-mode webhooks
    replaced by markers; rendering substitutes them in the bytes. The result is
    byte for byte what serializing the varied body would give, at a fraction of the
    cost (serializing was a quarter of load mode's time)."""

    def __init__(self, parsed: dict[str, Any]) -> None:
        body = dict(parsed)
        self.kind = body["type"]
        if self.kind == "sync":
            results = dict(body.get("responseResults") or {})
            self.base = int(results.get("added", 0))
            results["added"] = _COUNT_MARKER
            body["responseResults"] = results
            self.marker, self.expected = str(_COUNT_MARKER).encode(), 1
        else:
            body["payload"] = {"id": _ID_MARKER, "statusUrl": f"/action/{_ID_MARKER}"}
            self.marker, self.expected = _ID_MARKER.encode(), 2
        self.data = serialization.serialize(body)

    @property
    def usable(self) -> bool:
        """The markers occur exactly where they were put (the body held no look-alike)."""
        return self.data.count(self.marker) == self.expected

    def render(self, round_number: int) -> bytes:
        if self.kind == "sync":
            value = str(self.base + round_number).encode()
        else:
            import uuid

            value = str(uuid.uuid4()).encode()
        return self.data.replace(self.marker, value)


def variants(
    plan: DeliveryPlan, count: int, key: str | None, sign_mode: str
) -> Iterator[PlannedWebhook]:
    """`count` webhooks cycling through the plan's (one per model), each body distinct
    where the type allows it: sync successes count one more `added` each round, async
    actions get a new action id; other bodies repeat. Each is signed for its own
    bytes. The first round is the plan itself, byte for byte: `fire --count 1` sends
    what `fire` sends."""
    bases: list[tuple[PlannedWebhook, _Template | None]] = []
    for webhook in plan.webhooks:
        try:
            parsed = json.loads(webhook.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            parsed = None
        template = None
        if (
            isinstance(parsed, dict)
            and parsed.get("type") in ("sync", "async_action")
            and not (parsed.get("type") == "sync" and parsed.get("success") is False)
        ):
            template = _Template(parsed)
            if not template.usable:
                template = None
        bases.append((webhook, template))
    unsigned = [
        without(w.headers, (vocabulary.HMAC_HEADER, vocabulary.LEGACY_HEADER)) for w, _ in bases
    ]
    for i in range(count):
        index = i % len(bases)
        webhook, template = bases[index]
        if i < len(bases) or template is None:
            yield webhook
            continue
        data = template.render(i // len(bases))
        headers = {**unsigned[index], **signatures.signature_headers(key or "", data, sign_mode)}
        yield dataclasses.replace(webhook, body=data, headers=headers)


def _percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[index], 3)


@dataclass
class LoadReport:
    count: int
    concurrency: int
    rate: float | None
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    duration_s: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    by_class: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def throughput(self) -> float:
        return round(self.delivered / self.duration_s, 1) if self.duration_s else 0.0

    def latency(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies)
        return {
            "p50": _percentile(ordered, 50),
            "p95": _percentile(ordered, 95),
            "p99": _percentile(ordered, 99),
            "max": round(ordered[-1], 3) if ordered else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "delivered": self.delivered,
            "failed": self.failed,
            "attempts": self.attempts,
            "duration_s": round(self.duration_s, 3),
            "throughput_per_s": self.throughput,
            "latency_ms": self.latency(),
            "attempts_by_class": dict(sorted(self.by_class.items())),
            "interrupted": self.interrupted,
        }


def _class_of(attempt: AttemptRecord) -> str:
    if attempt.status_code is not None:
        return f"{attempt.status_code // 100}xx"
    return attempt.error_class or "network"


class LoadRunner:
    def __init__(
        self,
        plan: DeliveryPlan,
        store: Store,
        count: int,
        concurrency: int,
        rate: float | None = None,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.plan = plan
        self.store = store
        self.count = count
        self.concurrency = max(1, concurrency)
        self.rate = rate
        self.on_progress = on_progress
        self.sleep = sleep  # between retries; tests pass a fake clock
        self.report = LoadReport(count, self.concurrency, rate)
        self._attempts: list[tuple[str, AttemptRecord]] = []
        self._finished: list[tuple[str, str]] = []
        self._last_flush = time.perf_counter()
        self._done: set[str] = set()

    def _flush(self, force: bool = False) -> None:
        now = time.perf_counter()
        pending = len(self._attempts) + len(self._finished)
        if not pending or not (
            force or pending >= _FLUSH_AT or now - self._last_flush >= _FLUSH_EVERY_S
        ):
            return
        attempts, self._attempts = self._attempts, []
        finished, self._finished = self._finished, []
        self.store.record_outcomes(attempts, finished)
        self._last_flush = now

    async def _deliver(self, sender: AiohttpSender, record: WebhookRecord) -> None:
        def on_attempt(attempt: AttemptRecord, reason: str) -> None:
            self._attempts.append((record.id, attempt))
            self.report.attempts += 1
            self.report.latencies.append(attempt.latency_ms or 0.0)
            key = _class_of(attempt)
            self.report.by_class[key] = self.report.by_class.get(key, 0) + 1

        steps = delivery_steps(record.targets, self.plan.policy, on_attempt, self.plan.breaker)
        result = await run_steps_async(
            steps,
            lambda target: sender.send(target, record.body, record.headers, self.plan.timeout),
            self.sleep,
        )
        self._finished.append((record.id, DELIVERED if result.delivered else FAILED))
        if result.delivered:
            self.report.delivered += 1
        else:
            self.report.failed += 1
        self._done.add(record.id)
        self.on_progress(len(self._done), self.count)
        self._flush()

    async def run(self, key: str | None, sign_mode: str) -> LoadReport:
        from nango_cli.delivery.aiohttp_sender import AiohttpSender

        # The clock includes building, signing and storing: throughput is end to end.
        start = time.perf_counter()
        webhooks = list(variants(self.plan, self.count, key, sign_mode))
        records = to_records(webhooks, self.plan.env)
        self.store.record_webhooks(records)  # the outbox: every payload is stored first
        queue = iter(records)
        next_index = 0

        async def worker(sender: AiohttpSender) -> None:
            nonlocal next_index
            for record in queue:
                if self.rate:
                    due = start + next_index / self.rate
                    next_index += 1
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await self._deliver(sender, record)

        sender = AiohttpSender(self.concurrency, self.plan.tls)
        try:
            await asyncio.gather(*(worker(sender) for _ in range(self.concurrency)))
        except asyncio.CancelledError:
            self.report.interrupted = True
            raise
        finally:
            await sender.close()
            self.report.duration_s = time.perf_counter() - start
            self._flush(force=True)
            if len(self._done) < self.count:
                self.report.interrupted = True
                unfinished = [r.id for r in records if r.id not in self._done]
                self.store.finish_webhooks([(i, INTERRUPTED) for i in unfinished])
        return self.report
