"""A delivery plan under an environment's settings: its retry policy, deadline and
circuit breaker (the one place a plan is derived from settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nango_cli.app.settings import Settings
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook
from nango_cli.delivery.retry import make_policy
from nango_cli.delivery.transport import TLSOptions

if TYPE_CHECKING:
    from nango_cli.delivery.breaker import CircuitBreaker


def delivery_plan(
    settings: Settings,
    webhooks: list[PlannedWebhook],
    notes: list[str],
    circuit_breaker: bool = True,
    tls: TLSOptions | None = None,
    skipped: str | None = None,
) -> DeliveryPlan:
    """A plan under the environment's settings: its retry policy and deadline, and the
    circuit breaker that comes with Nango's server policy (unless the setting or
    `--no-circuit-breaker` turns it off)."""
    policy = make_policy(settings.retry_policy, settings.retries)
    breaker = None
    if circuit_breaker and policy.name == "server" and settings.circuit_breaker:
        breaker = breaker_for(settings)
    return DeliveryPlan(
        webhooks=webhooks,
        policy=policy,
        breaker=breaker,
        timeout=float(settings.timeout),
        env=settings.env,
        notes=notes,
        skipped=skipped,
        tls=tls or TLSOptions(),
    )


def breaker_for(settings: Settings) -> CircuitBreaker:
    """Nango's circuit breaker with the environment's thresholds."""
    from nango_cli.delivery.breaker import CircuitBreaker  # only when a plan has one

    return CircuitBreaker(
        threshold=int(settings.circuit_breaker_failures),
        window_s=float(settings.circuit_breaker_window),
        cooldown_s=float(settings.circuit_breaker_cooldown),
    )
