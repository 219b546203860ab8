"""`check`: a conformance suite for the user's webhook handler, against Nango's contract.

Each check sends real webhooks (recorded in history like any other) with one
attempt each, and judges the handler's answer. The result objects carry what
the CLI prints; nothing here prints.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nango_cli import payloads, signing
from nango_cli.delivery import RetryPolicy, make_policy, merge_headers, wire_headers
from nango_cli.pipeline import DeliveryPlan, PlannedWebhook, SentWebhook, SyncSender, execute
from nango_cli.store import AttemptRecord, Store
from nango_cli.transports import TLSOptions


@dataclass(frozen=True)
class CheckSpec:
    name: str
    expectation: str
    why: str
    required: bool = True


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("sync", "2xx within the timeout", "the webhook Nango sends after every sync run"),
    CheckSpec("sync-error", "2xx", "sent when a sync fails (setting on by default)"),
    CheckSpec("auth-creation", "2xx", "sent when a connection is created"),
    CheckSpec("auth-refresh-failure", "2xx", "sent when a token refresh fails"),
    CheckSpec("forward", "2xx", "external API webhooks forwarded by Nango"),
    CheckSpec("async-action", "2xx", "sent when an async action completes"),
    CheckSpec(
        "unknown-type", "2xx (ignored)", "Nango adds webhook types without a breaking-change notice"
    ),
    CheckSpec("tampered-body", "4xx", "a body changed after signing must be rejected"),
    CheckSpec("wrong-key", "4xx", "a webhook signed with another key must be rejected"),
    CheckSpec("missing-signature", "4xx", "an unsigned webhook must be rejected"),
    CheckSpec(
        "legacy-only",
        "4xx (warn if 2xx)",
        "X-Nango-Signature alone is length-extendable; verify the HMAC header",
        required=False,
    ),
    CheckSpec(
        "duplicate",
        "2xx twice",
        "Nango's retries resend identical bytes; handlers must accept and dedupe",
    ),
    CheckSpec("concurrent-models", "2xx for each", "a sync with N models sends N webhooks at once"),
)
CHECK_NAMES = tuple(c.name for c in CHECKS)


@dataclass
class CheckResult:
    name: str
    expectation: str
    happened: str
    verdict: str  # "pass" | "warn" | "fail"
    required: bool
    why: str
    webhook_ids: list[str] = field(default_factory=list)
    nango_would: str | None = None

    @property
    def failed(self) -> bool:
        return self.verdict == "fail" and self.required

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expectation": self.expectation,
            "happened": self.happened,
            "verdict": self.verdict,
            "required": self.required,
            "why": self.why,
            "webhook_ids": self.webhook_ids,
            "nango_would": self.nango_would,
        }


@dataclass
class CheckTarget:
    url: str
    key: str
    env: str
    sync_name: str
    integration: str
    models: list[str]
    connection_id: str
    timeout: float = 20.0
    policy: str = "docs"
    tls: TLSOptions = field(default_factory=TLSOptions)


def describe(attempt: AttemptRecord) -> str:
    if attempt.status_code is None:
        return f"{attempt.error_class}: {attempt.error}"
    return f"{attempt.status_code} in {attempt.latency_ms or 0:.0f} ms"


def nango_would(policy: RetryPolicy, attempt: AttemptRecord) -> str:
    """What Nango does next after this answer, under `policy`."""
    retry, reason = policy.wants_retry(attempt)
    if not retry or policy.retries == 0:
        return f"Nango ({policy.name} policy) would not retry ({reason}): the webhook is lost"
    waits = ", ".join(f"{policy.delay(i):g}s" for i in range(policy.retries))
    return (
        f"Nango ({policy.name} policy) would retry {policy.retries} time(s), after {waits}, "
        "resending identical bytes, then give up"
    )


class Runner:
    def __init__(self, target: CheckTarget, store: Store, sender: SyncSender | None = None) -> None:
        from nango_cli.transports.httpx_sender import Sender

        self.t = target
        self.store = store
        self.sender = sender or Sender(target.tls)
        self.policy = make_policy(target.policy)
        self.modified_after = payloads.now_timestamp()

    # -- building

    def _sync(self, model: str | None = None, added: int = 1) -> dict[str, Any]:
        return payloads.sync_success(
            connection_id=self.t.connection_id,
            provider_config_key=self.t.integration,
            sync_name=self.t.sync_name,
            model=model or self.t.models[0],
            modified_after=self.modified_after,
            added=added,
        )

    def _webhook(
        self, body: Any, sign: str = "both", key: str | None = None, tamper: bool = False
    ) -> PlannedWebhook:
        data = signing.serialize(body)
        headers = merge_headers(
            wire_headers(), signing.signature_headers(key or self.t.key, data, sign)
        )
        if tamper:
            body = dict(body)
            body["connectionId"] = str(body.get("connectionId", "")) + "-tampered"
            data = signing.serialize(body)
        return PlannedWebhook.for_body(body, data, headers, [self.t.url])

    def _send(self, webhooks: list[PlannedWebhook], concurrent: bool = False) -> list[SentWebhook]:
        plan = DeliveryPlan(
            webhooks=webhooks,
            policy=make_policy("none"),
            timeout=self.t.timeout,
            env=self.t.env,
        )
        return execute(plan, self.store, lambda event: None, self.sender, concurrent=concurrent)

    # -- judging

    def _accepted(self, spec: CheckSpec, sent: list[SentWebhook]) -> CheckResult:
        attempts = [s.attempts[0] for s in sent if s.attempts]
        ids = [s.record.id for s in sent]
        bad = [a for a in attempts if a.outcome != "success"]
        happened = "; ".join(describe(a) for a in attempts)
        if not bad:
            return CheckResult(
                spec.name, spec.expectation, happened, "pass", spec.required, spec.why, ids
            )
        return CheckResult(
            spec.name,
            spec.expectation,
            happened,
            "fail",
            spec.required,
            spec.why,
            ids,
            nango_would(self.policy, bad[0]),
        )

    def _rejected(self, spec: CheckSpec, sent: SentWebhook, warn_only: bool = False) -> CheckResult:
        attempt = sent.result.targets[0].attempts[0] if sent.result else None
        ids = [sent.record.id]
        if attempt is None or attempt.status_code is None:
            happened = describe(attempt) if attempt else "not sent"
            return CheckResult(
                spec.name, spec.expectation, happened, "fail", spec.required, spec.why, ids
            )
        happened = describe(attempt)
        code = attempt.status_code
        if 400 <= code < 500:
            return CheckResult(
                spec.name, spec.expectation, happened, "pass", spec.required, spec.why, ids
            )
        if 200 <= code < 300:
            what = (
                "accepted: the handler trusts the legacy header"
                if warn_only
                else "accepted: the handler does not verify signatures"
            )
            return CheckResult(
                spec.name,
                spec.expectation,
                f"{happened} ({what})",
                "warn" if warn_only else "fail",
                spec.required,
                spec.why,
                ids,
            )
        return CheckResult(
            spec.name,
            spec.expectation,
            f"{happened} (rejected, but not with a 4xx: a forged webhook would be retried)",
            "warn",
            spec.required,
            spec.why,
            ids,
            nango_would(self.policy, attempt),
        )

    # -- the checks

    def run(self, spec: CheckSpec) -> CheckResult:
        name = spec.name
        if name == "sync":
            return self._accepted(spec, self._send([self._webhook(self._sync())]))
        if name == "sync-error":
            body = payloads.sync_error(
                connection_id=self.t.connection_id,
                provider_config_key=self.t.integration,
                sync_name=self.t.sync_name,
                models=self.t.models,
                description="nango-hooks check: simulated failure",
                started_at=self.modified_after,
                failed_at=payloads.now_timestamp(),
            )
            return self._accepted(spec, self._send([self._webhook(body)]))
        if name in ("auth-creation", "auth-refresh-failure"):
            body = payloads.auth(
                connection_id=self.t.connection_id,
                provider_config_key=self.t.integration,
                provider=self.t.integration,
                environment=self.t.env,
                operation="creation" if name == "auth-creation" else "refresh",
                success=name == "auth-creation",
            )
            return self._accepted(spec, self._send([self._webhook(body)]))
        if name == "forward":
            body = payloads.forward(
                provider=self.t.integration,
                provider_config_key=self.t.integration,
                connection_id=self.t.connection_id,
                payload={"action": "nango-hooks-check"},
            )
            return self._accepted(spec, self._send([self._webhook(body)]))
        if name == "async-action":
            body = payloads.async_action(
                connection_id=self.t.connection_id, provider_config_key=self.t.integration
            )
            return self._accepted(spec, self._send([self._webhook(body)]))
        if name == "unknown-type":
            body = {
                "from": "nango",
                "type": "nango_hooks_future_type",
                "connectionId": self.t.connection_id,
                "providerConfigKey": self.t.integration,
                "payload": {"new": True},
            }
            return self._accepted(spec, self._send([self._webhook(body)]))
        if name == "tampered-body":
            return self._rejected(spec, self._send([self._webhook(self._sync(), tamper=True)])[0])
        if name == "wrong-key":
            other = "wrong-" + secrets.token_hex(16)
            return self._rejected(spec, self._send([self._webhook(self._sync(), key=other)])[0])
        if name == "missing-signature":
            return self._rejected(spec, self._send([self._webhook(self._sync(), sign="none")])[0])
        if name == "legacy-only":
            webhook = self._webhook(self._sync(), sign="legacy-only")
            return self._rejected(spec, self._send([webhook])[0], warn_only=True)
        if name == "duplicate":
            webhook = self._webhook(self._sync(added=7))
            return self._accepted(spec, self._send([webhook, webhook]))
        if name == "concurrent-models":
            models = self.t.models if len(self.t.models) > 1 else [self.t.models[0]] * 3
            webhooks = [self._webhook(self._sync(m, added=i + 1)) for i, m in enumerate(models)]
            return self._accepted(spec, self._send(webhooks, concurrent=True))
        raise ValueError(name)


def run_checks(
    target: CheckTarget,
    store: Store,
    names: list[str],
    on_result: Callable[[CheckResult], None] = lambda r: None,
) -> list[CheckResult]:
    runner = Runner(target, store)
    results = []
    try:
        for spec in CHECKS:
            if spec.name in names:
                result = runner.run(spec)
                results.append(result)
                on_result(result)
    finally:
        runner.sender.close()
    return results
