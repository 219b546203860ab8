"""`deliver`: one webhook to its URLs with Nango's retry policy, the attempts returned.
What the outbox does for the CLI, without a store: for a user's own tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.delivery.retry import DeliveryResult, delivery_steps, make_policy, run_steps
from nango_cli.delivery.transport import Sender
from nango_cli.errors import UsageError
from nango_cli.protocol import vocabulary
from nango_cli.protocol.signed_webhooks import SignedWebhook

if TYPE_CHECKING:
    # Only a type here: the breaker is built where a plan needs one (app/plans.py).
    from nango_cli.delivery.breaker import CircuitBreaker


def deliver(
    webhook: SignedWebhook,
    url: str | Sequence[str],
    *,
    policy: str = "docs",
    retries: int | None = None,
    timeout: float = vocabulary.TIMEOUT_S,
    sender: Sender | None = None,
    breaker: CircuitBreaker | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    on_attempt: Callable[[AttemptRecord, str], None] | None = None,
) -> DeliveryResult:
    """POST `webhook` to `url` (or to each of several, in order: primary, then secondary)
    as Nango's server does: the `policy`'s retries and waits ("docs": any non-2xx, 100
    ms then 200 ms; "server": 5xx and network errors, 3 s then 6 s; "none"), one total
    deadline per attempt, redirects as axios follows them. `sender` defaults to httpx;
    a `MockSender` takes a function instead of the network."""
    if policy not in ("docs", "server", "none"):
        raise UsageError("policy must be one of: docs, server, none")
    if retries is not None and (isinstance(retries, bool) or not 0 <= retries <= 20):
        raise UsageError("retries must be a whole number from 0 to 20")
    if timeout <= 0:
        raise UsageError("timeout must be greater than zero")
    targets = [url] if isinstance(url, str) else list(url)
    if not targets:
        raise UsageError("url is required")
    own = sender is None
    if sender is None:
        from nango_cli.delivery.httpx_sender import HttpxSender

        sender = HttpxSender()
    steps = delivery_steps(
        targets, make_policy(policy, retries), on_attempt or (lambda a, r: None), breaker
    )
    try:
        return run_steps(
            steps, lambda target: sender.send(target, webhook.body, webhook.headers, timeout), sleep
        )
    finally:
        if own:
            sender.close()
