"""`check`: a conformance suite for the user's webhook handler, against Nango's contract.

Each check sends real webhooks (recorded in history like any other) with one
attempt each, and judges the handler's answer. The result objects carry what
the CLI prints; nothing here prints.

The suite cannot be fooled by a handler that rejects everything: the security
checks (a forged webhook must be refused) count only when the same run saw
the handler accept a correctly signed webhook; otherwise they are "not judged"
and the report says why.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from nango_cli.app import api_calls
from nango_cli.app.check_specs import (
    BODY_LIMITS,
    BREAKER_CHECK,
    CHECKS,
    END_USER,
    LARGE_BODY_BYTES,
    SPECS,
    CheckResult,
    CheckSpec,
    CheckTarget,
    answer_excerpt,
    available,
    describe,
    nango_would,
)
from nango_cli.app.fire import apply_announced
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook, SentWebhook, execute
from nango_cli.delivery.records import AttemptRecord
from nango_cli.delivery.retry import make_policy
from nango_cli.delivery.transport import Sender
from nango_cli.errors import DeliveryError, UsageError
from nango_cli.protocol import bodies, serialization
from nango_cli.protocol.webhooks import signed_headers
from nango_cli.storage.webhooks import Store
from nango_cli.support import timefmt


class NothingListening(DeliveryError):
    pass


class Runner:
    def __init__(self, target: CheckTarget, store: Store, sender: Sender | None = None) -> None:
        from nango_cli.delivery.httpx_sender import HttpxSender

        self.t = target
        self.store = store
        self.sender = sender or HttpxSender(target.tls)
        self.policy = make_policy(target.policy)
        self.modified_after = timefmt.now_timestamp()
        # Correctly signed webhooks the handler accepted / every one it was sent.
        self.accepted_genuine: list[str] = []
        self.sent_genuine = 0
        self.breaker_opened_by: str | None = None
        self.breaker_refusals: list[str] = []

    # -- building

    def _sync(self, model: str | None = None, added: int = 1) -> dict[str, Any]:
        return bodies.sync_success(
            connection_id=self.t.connection_id,
            provider_config_key=self.t.integration,
            sync_name=self.t.sync_name,
            model=model or self.t.models[0],
            modified_after=self.modified_after,
            added=added,
        )

    def _auth(self, operation: str, success: bool = True) -> dict[str, Any]:
        return bodies.auth(
            connection_id=self.t.connection_id,
            provider_config_key=self.t.integration,
            provider=self.t.integration,
            environment=self.t.env,
            operation=operation,
            success=success,
            end_user=END_USER if self.t.end_user else None,
        )

    def webhook(
        self, body: Any, sign: str = "both", key: str | None = None, tamper: bool = False
    ) -> PlannedWebhook:
        data = serialization.serialize(body)
        headers = signed_headers(data, key or self.t.key, sign)
        if tamper:
            body = dict(body)
            body["connectionId"] = str(body.get("connectionId", "")) + "-tampered"
            data = serialization.serialize(body)
        webhook = PlannedWebhook.for_body(body, data, headers, [self.t.url])
        rotated = key is not None and key == self.t.previous_key
        if sign != "both" or tamper or not (key in (None, self.t.key) or rotated):
            # A forgery: stored as a deliberate negative, so `replay --failed` skips it.
            webhook.negative = True
            webhook.expect_rejection = True
        return webhook

    def send(
        self, webhooks: list[PlannedWebhook], concurrent: bool = False, announce: bool = True
    ) -> list[SentWebhook]:
        if announce:
            # What the webhooks announce is made true first, as `fire` does: a handler
            # that fetches the records (from a running `nango-hooks api`) finds them.
            apply_announced(self.store, list({w.body: w for w in webhooks}.values()))
        plan = DeliveryPlan(
            webhooks=webhooks,
            policy=make_policy("none"),
            timeout=self.t.timeout,
            env=self.t.env,
        )
        sent = execute(plan, self.store, lambda event: None, self.sender, concurrent=concurrent)
        for item in sent:
            attempt = item.attempts[0] if item.attempts else None
            if attempt is not None and attempt.error_class == "refused" and not self.sent_genuine:
                raise NothingListening(
                    f"nothing is listening at {self.t.url}",
                    hint="start your handler, or check the URL and port",
                )
            self._observe(item, attempt)
        return sent

    def _observe(self, item: SentWebhook, attempt: AttemptRecord | None) -> None:
        """Count genuine webhooks, and feed the breaker what Nango would have seen (Nango
        never sends a forgery, so those do not count)."""
        if item.expects_rejection or attempt is None:
            return
        self.sent_genuine += 1
        if attempt.outcome == "success":
            self.accepted_genuine.append(item.record.id)
        if self.t.breaker.refusal(self.t.url) is not None:
            self.breaker_refusals.append(item.record.id)
            return
        if self.t.breaker.record(self.t.url, attempt.outcome == "success"):
            self.breaker_opened_by = item.record.id

    # -- judging

    def accepted(self, spec: CheckSpec, sent: list[SentWebhook]) -> CheckResult:
        attempts = [s.attempts[0] for s in sent if s.attempts]
        ids = [s.record.id for s in sent]
        bad = [a for a in attempts if a.outcome != "success"]
        brief = "; ".join(describe(a) for a in attempts)
        if not bad:
            return spec.result(brief, "pass", ids)
        happened = "; ".join(describe(a, detail=True) for a in attempts)
        fix = None
        if spec.name == "large-body":
            refused = f" (a {LARGE_BODY_BYTES // 1000} kB body was refused: {BODY_LIMITS})"
            happened += refused
            brief += f" (a {LARGE_BODY_BYTES // 1000} kB body)"
            fix = BODY_LIMITS
        return spec.result(
            happened,
            "warn" if spec.role == "advisory" else "fail",
            ids,
            nango_would(self.policy, bad[0]),
            api_calls.cause_of(self.store, bad[0], self.t.env, self.t.api_url),
            brief=brief,
            answer=answer_excerpt(bad[0], 200) or None,
            fix=fix,
        )

    def _rejected(self, spec: CheckSpec, sent: SentWebhook) -> CheckResult:
        attempt = sent.attempts[0] if sent.attempts else None
        ids = [sent.record.id]
        if attempt is None or attempt.status_code is None:
            happened = describe(attempt) if attempt else "not sent"
            return spec.result(happened, "fail", ids)
        happened = describe(attempt, detail=True)
        brief = describe(attempt)
        answer = answer_excerpt(attempt, 200) or None
        code = attempt.status_code
        if 400 <= code < 500:
            return spec.result(brief, "pass", ids)
        if 200 <= code < 300:
            what = {
                "legacy-only": "accepted: the handler trusts the legacy header",
                "secret-key": "accepted: the handler verifies with the API secret key, "
                "not the webhook signing key",
            }.get(spec.name, "accepted: the handler does not verify signatures")
            return spec.result(
                f"{happened} ({what})",
                "fail" if spec.required else "warn",
                ids,
                brief=f"{brief} ({what})",
                answer=answer,
            )
        return spec.result(
            f"{happened} (rejected, but not with a 4xx: a forged webhook would be retried)",
            "warn",
            ids,
            nango_would(self.policy, attempt),
            brief=f"{brief} (not a 4xx)",
            answer=answer,
        )

    # -- the checks

    def run(self, spec: CheckSpec) -> CheckResult:
        name = spec.name
        t = self.t
        if spec.role == "reject":
            return self._rejected(spec, self.send([self._forgery(name)])[0])
        if name == "sync":
            body: Any = self._sync()
        elif name == "sync-error":
            body = bodies.sync_error(
                connection_id=t.connection_id,
                provider_config_key=t.integration,
                sync_name=t.sync_name,
                models=t.models,
                description="nango-hooks check: simulated failure",
                started_at=self.modified_after,
                failed_at=timefmt.now_timestamp(),
            )
        elif name == "auth-creation":
            body = self._auth("creation")
        elif name == "auth-refresh-failure":
            body = self._auth("refresh", success=False)
        elif name == "auth-deletion":
            body = self._auth("deletion")
        elif name in ("forward", "large-body"):
            payload: dict[str, Any] = {"action": "nango-hooks-check"}
            if name == "large-body":
                payload["padding"] = "x" * LARGE_BODY_BYTES
            body = bodies.forward(
                provider=t.integration,
                provider_config_key=t.integration,
                connection_id=t.connection_id,
                payload=payload,
            )
        elif name == "async-action":
            body = bodies.async_action(
                connection_id=t.connection_id, provider_config_key=t.integration
            )
        elif name == "unknown-type":
            body = {
                "from": "nango",
                "type": "nango_hooks_future_type",
                "connectionId": t.connection_id,
                "providerConfigKey": t.integration,
                "payload": {"new": True},
            }
        elif name == "duplicate":
            webhook = self.webhook(self._sync(added=7))
            return self.accepted(spec, self.send([webhook, webhook]))
        elif name == "concurrent-models":
            models = t.models if len(t.models) > 1 else [t.models[0]] * 3
            webhooks = [self.webhook(self._sync(m, added=i + 1)) for i, m in enumerate(models)]
            return self.accepted(spec, self.send(webhooks, concurrent=True))
        elif name == "fetches-records":
            return self._fetches_records(spec)
        elif name == "rotation":
            return self.accepted(
                spec, self.send([self.webhook(self._sync(), key=t.previous_key)])
            )
        else:
            raise ValueError(name)
        return self.accepted(spec, self.send([self.webhook(body)]))

    def _fetches_records(self, spec: CheckSpec) -> CheckResult:
        from nango_cli.app.check_fetch import fetches_records

        return fetches_records(self, spec)

    def _forgery(self, name: str) -> PlannedWebhook:
        if name == "tampered-body":
            return self.webhook(self._sync(), tamper=True)
        if name == "wrong-key":
            return self.webhook(self._sync(), key="wrong-" + secrets.token_hex(16))
        if name == "missing-signature":
            return self.webhook(self._sync(), sign="none")
        if name == "secret-key":
            return self.webhook(self._sync(), key=self.t.secret_key)
        if name == "legacy-only":
            return self.webhook(self._sync(), sign="legacy-only")
        raise ValueError(name)

    def control(self) -> None:
        """A correctly signed sync webhook, sent when no other check of the run would show
        whether the handler accepts genuine webhooks."""
        self.send([self.webhook(self._sync())])

    # -- the report

    def judge_security(self, results: list[CheckResult]) -> None:
        """Security checks count only if a genuine webhook got through in this run."""
        if self.accepted_genuine:
            return
        reason = (
            f"every correctly signed webhook was rejected ({self.sent_genuine} sent): "
            f"is the handler using environment {self.t.env!r}'s webhook signing key?"
        )
        secret = next((r for r in results if r.name == "secret-key"), None)
        if secret is not None and secret.verdict == "fail":
            reason += (
                " It accepted the webhook signed with the API secret key: it verifies with "
                "the secret key; Nango signs with the webhook signing key"
            )
        for result in results:
            if SPECS[result.name].role == "reject":
                result.verdict = "not judged"
                result.reason = reason

    def breaker_result(self) -> CheckResult | None:
        if self.breaker_opened_by is None:
            return None
        b = self.t.breaker
        refused = len(self.breaker_refusals)
        later = (
            f"; Nango would have refused {refused} later webhook(s) of this run" if refused else ""
        )
        return CheckResult(
            BREAKER_CHECK,
            f"at most {b.threshold} failures within {b.window_s:g}s",
            f"the handler's failures would have opened Nango's circuit breaker for "
            f"{self.t.url}{later}",
            "warn",
            False,
            f"while open ({b.cooldown_s:g}s) every webhook to this URL, for every "
            "connection, fails at once (circuit_breaker_open) and is not retried: "
            "a brief outage loses other connections' webhooks",
            [self.breaker_opened_by, *self.breaker_refusals],
        )


def run_checks(
    target: CheckTarget,
    store: Store,
    names: list[str],
    on_result: Callable[[CheckResult], None] = lambda r: None,
    sender: Sender | None = None,
) -> list[CheckResult]:
    unavailable = [n for n in names if n not in available(target)]
    if unavailable:
        needs = SPECS[unavailable[0]].needs
        if needs == "api":
            raise UsageError(
                f"check {unavailable[0]!r} needs the API the handler fetches from",
                hint="start `nango-hooks api` on this machine, or pass --api URL",
            )
        raise UsageError(
            f"check {unavailable[0]!r} needs the {needs} setting",
            hint=f"set it with `nango-hooks config set {needs} …`",
        )
    runner = Runner(target, store, sender)
    results: list[CheckResult] = []
    try:
        specs = [spec for spec in CHECKS if spec.name in names]
        if any(s.role == "reject" for s in specs) and not any(s.role == "accept" for s in specs):
            runner.control()
        for spec in specs:
            result = runner.run(spec)
            results.append(result)
            if spec.role != "reject":
                on_result(result)
        runner.judge_security(results)
        for result in results:
            if SPECS[result.name].role == "reject":
                on_result(result)
        breaker = runner.breaker_result()
        if breaker is not None:
            results.append(breaker)
            on_result(breaker)
    finally:
        runner.sender.close()
    return results
