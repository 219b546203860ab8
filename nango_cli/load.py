"""Load mode (`fire --count N`): many distinct signed webhooks, concurrently, recorded.

Uses aiohttp's client, chosen by measurement (see README, Performance): the
per-webhook path's http.client sends one request at a time, and httpx's async
client degraded with concurrency. Payload building, signing, retry policy and
recording are the same as a normal `fire`: the webhooks are all committed to the
store before the first is sent (the outbox); attempts and outcomes are written in
batches from the event loop, so a crash can lose at most the attempts of the last
quarter second, never a webhook (those rows are then marked interrupted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nango_cli import signing
from nango_cli.delivery import (
    MAX_REDIRECTS,
    RetryPolicy,
    answered_attempt,
    classify_error,
    failed_attempt,
)
from nango_cli.fire import FirePlan, PlannedWebhook, to_records
from nango_cli.payloads import format_timestamp
from nango_cli.store import DELIVERED, FAILED, INTERRUPTED, AttemptRecord, Store

_FLUSH_EVERY_S = 0.25
_FLUSH_AT = 1000


def variants(
    plan: FirePlan, count: int, key: str | None, sign_mode: str
) -> Iterator[PlannedWebhook]:
    """`count` webhooks cycling through the plan's (one per model), each body distinct
    where the type allows it: sync successes vary their `added` count, async actions
    get a new action id; other bodies repeat. Each is signed for its own bytes."""
    import uuid

    bases = []
    for webhook in plan.webhooks:
        try:
            parsed = json.loads(webhook.body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        bases.append((webhook, parsed if isinstance(parsed, dict) else None))
    for i in range(count):
        webhook, parsed = bases[i % len(bases)]
        if (
            parsed is None
            or (parsed.get("type") not in ("sync", "async_action"))
            or (parsed.get("type") == "sync" and parsed.get("success") is False)
        ):
            yield webhook
            continue
        body = dict(parsed)
        if body["type"] == "sync":
            results = dict(body.get("responseResults") or {})
            results["added"] = int(results.get("added", 0)) + i // len(bases)
            body["responseResults"] = results
        else:
            action_id = str(uuid.uuid4())
            body["payload"] = {"id": action_id, "statusUrl": f"/action/{action_id}"}
        data = signing.serialize(body)
        headers = {
            k: v
            for k, v in webhook.headers.items()
            if k not in (signing.HMAC_HEADER, signing.LEGACY_HEADER)
        }
        headers.update(signing.signature_headers(key or "", data, sign_mode))
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
        plan: FirePlan,
        store: Store,
        count: int,
        concurrency: int,
        rate: float | None = None,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.count = count
        self.concurrency = max(1, concurrency)
        self.rate = rate
        self.on_progress = on_progress
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
        if attempts:
            self.store.record_attempts(attempts)
        if finished:
            self.store.finish_webhooks(finished)
        self._last_flush = now

    async def _post(
        self, session: Any, url: str, body: bytes, headers: dict[str, str]
    ) -> AttemptRecord:
        import aiohttp

        started = format_timestamp(datetime.now(UTC))
        start = time.perf_counter()
        try:
            async with session.post(
                url, data=body, headers=headers, max_redirects=MAX_REDIRECTS
            ) as response:
                content = await response.content.read(64 * 1024)
                status = response.status
                response_headers = dict(response.headers.items())
        except aiohttp.TooManyRedirects:
            error_class, message = "redirects", f"more than {MAX_REDIRECTS} redirects"
        except aiohttp.ServerDisconnectedError:
            error_class, message = "reset", "connection closed before a response"
        except aiohttp.ClientConnectorError as exc:
            error_class, message = classify_error(exc.os_error)
        except aiohttp.ClientPayloadError:
            error_class, message = "protocol", "invalid response body"
        except aiohttp.ClientResponseError as exc:
            error_class, message = "protocol", f"invalid HTTP response ({exc.message})"
        except (aiohttp.ClientOSError, OSError) as exc:
            error_class, message = classify_error(exc)
        except TimeoutError:
            error_class, message = "timeout", f"no complete response within {self.plan.timeout:g}s"
        else:
            return answered_attempt(url, started, start, status, response_headers, content)
        return failed_attempt(url, started, start, error_class, message)

    async def _deliver(
        self,
        session: Any,
        webhook_id: str,
        body: bytes,
        headers: dict[str, str],
        policy: RetryPolicy,
    ) -> None:
        delivered = True
        for target in self.plan.targets:
            number = 1
            while True:
                attempt = await self._post(session, target, body, headers)
                policy.decide(attempt, number)
                self._attempts.append((webhook_id, attempt))
                self.report.attempts += 1
                self.report.latencies.append(attempt.latency_ms or 0.0)
                key = _class_of(attempt)
                self.report.by_class[key] = self.report.by_class.get(key, 0) + 1
                if not attempt.will_retry:
                    delivered = delivered and attempt.outcome == "success"
                    break
                await asyncio.sleep(attempt.wait_s or 0.0)
                number += 1
        self._finished.append((webhook_id, DELIVERED if delivered else FAILED))
        if delivered:
            self.report.delivered += 1
        else:
            self.report.failed += 1
        self._done.add(webhook_id)
        self.on_progress(len(self._done), self.count)
        self._flush()

    async def run(self, key: str | None, sign_mode: str) -> LoadReport:
        import aiohttp

        # The clock includes building, signing and storing: throughput is end to end.
        start = time.perf_counter()
        webhooks = list(variants(self.plan, self.count, key, sign_mode))
        records = to_records(webhooks, self.plan.targets, self.plan.env)
        self.store.record_webhooks(records)  # the outbox: every payload is stored first
        queue = iter(records)
        next_index = 0

        async def worker(session: Any) -> None:
            nonlocal next_index
            for record in queue:
                if self.rate:
                    due = start + next_index / self.rate
                    next_index += 1
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await self._deliver(
                    session, record.id, record.body, record.headers, self.plan.policy
                )

        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        timeout = aiohttp.ClientTimeout(total=self.plan.timeout)
        try:
            async with aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            ) as session:
                await asyncio.gather(*(worker(session) for _ in range(self.concurrency)))
        except asyncio.CancelledError:
            self.report.interrupted = True
            raise
        finally:
            self.report.duration_s = time.perf_counter() - start
            self._flush(force=True)
            if len(self._done) < self.count:
                self.report.interrupted = True
                unfinished = [r.id for r in records if r.id not in self._done]
                self.store.finish_webhooks([(i, INTERRUPTED) for i in unfinished])
        return self.report
