"""Running a scenario: each step's webhooks planned by the fire service, what they
announce made true for the API stand-in, sent once each (as `check` does: the answer
is what is judged), then the step's expectations judged. `check` runs its built-in
scenario through here too.

The API stand-in is an `ApiHandle`: one this process serves (servers/api/handle.py,
started by the command) or a running `nango-hooks api` on this machine (it shares the
store, so what a step announces is what it serves).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nango_cli.app import api_calls, fire
from nango_cli.app.scenarios import judge, refs, steps
from nango_cli.app.scenarios.judge import Announced, Outcome
from nango_cli.app.scenarios.model import Fault, Scenario, Step, Verdict
from nango_cli.app.scenarios.schema import fault_of
from nango_cli.app.settings import Settings, parse_duration
from nango_cli.delivery.breaker import CircuitBreaker
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook, SentWebhook, execute
from nango_cli.delivery.retry import make_policy
from nango_cli.delivery.transport import Sender, TLSOptions
from nango_cli.errors import DeliveryError, UsageError
from nango_cli.protocol import serialization
from nango_cli.storage.webhooks import Store


class ApiHandle(Protocol):
    """The API stand-in a scenario's handler calls back."""

    url: str

    def apply_fault(self, fault: Fault) -> None: ...


class NothingListening(DeliveryError):
    pass


@dataclass
class RunTarget:
    url: str
    settings: Settings
    api: ApiHandle | None = None
    tls: TLSOptions = field(default_factory=TLSOptions)
    # Nango's breaker, to say whether the run's failures would have opened it.
    breaker: CircuitBreaker | None = None


@dataclass
class StepResult:
    step: Step
    verdict: Verdict
    outcomes: list[Outcome] = field(default_factory=list)
    sent: list[SentWebhook] = field(default_factory=list)
    note: str | None = None  # what a wait or a fault did
    cause: str | None = None  # the handler's own failed API call, when one explains it
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.verdict == "fail" or (self.verdict == "not judged" and self.step.required)

    @property
    def webhook_ids(self) -> list[str]:
        return [s.record.id for s in self.sent]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.step.name,
            "kind": self.step.kind,
            "verdict": self.verdict,
            "required": self.step.required,
            "webhook_ids": self.webhook_ids,
            "expectations": [o.__dict__ for o in self.outcomes],
            "note": self.note,
            "cause": self.cause,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunResult:
    scenario: Scenario
    connection: str
    steps: list[StepResult]
    api_url: str | None
    seconds: float
    # The first webhook that would have opened Nango's breaker, and those it would then
    # have refused (with `RunTarget.breaker`).
    breaker_opened_by: str | None = None
    breaker_refusals: list[str] = field(default_factory=list)
    not_judged_reason: str | None = None
    # Correctly signed webhooks sent, and those the handler accepted.
    sent_genuine: int = 0
    accepted_genuine: int = 0

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "connection": self.connection,
            "api": self.api_url,
            "ok": not self.failed,
            "seconds": round(self.seconds, 3),
            "steps": [s.to_dict() for s in self.steps],
        }


def fresh_connection(name: str) -> str:
    """A connection id of this run alone: runs never touch each other's records, nor
    the ones the user develops against."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "run"
    return f"{slug}-{secrets.token_hex(3)}"


class ScenarioRunner:
    def __init__(
        self,
        scenario: Scenario,
        target: RunTarget,
        store: Store,
        sender: Sender | None = None,
        on_step: Callable[[StepResult], None] = lambda result: None,
        sleep: Callable[[float], Any] = time.sleep,
        connection: str | None = None,
        get_json: Callable[[str], tuple[int | None, Any]] | None = None,
    ) -> None:
        from nango_cli.delivery.httpx_sender import HttpxSender

        self.scenario = scenario
        self.t = target
        self.store = store
        self.own_sender = sender is None
        self.sender = sender or HttpxSender(target.tls)
        self.on_step = on_step
        self.sleep = sleep
        self.get_json = get_json or _get_json
        self.connection = connection or scenario.connection or fresh_connection(scenario.name)
        self.results: list[StepResult] = []
        self.accepted_genuine = 0
        self.sent_genuine = 0
        self.reached = False
        self.breaker_opened_by: str | None = None
        self.breaker_refusals: list[str] = []

    # ------------------------------------------------------------ the run

    def run(self) -> RunResult:
        started = time.monotonic()
        try:
            for step in self.scenario.steps:
                began = time.monotonic()
                result = self._step(step)
                result.seconds = time.monotonic() - began
                self.results.append(result)
                self.on_step(result)
        finally:
            if self.own_sender:
                self.sender.close()
        reason = self._judge_forgeries()
        return RunResult(
            self.scenario,
            self.connection,
            self.results,
            self.t.api.url if self.t.api else None,
            time.monotonic() - started,
            self.breaker_opened_by,
            self.breaker_refusals,
            reason,
            self.sent_genuine,
            self.accepted_genuine,
        )

    def _step(self, step: Step) -> StepResult:
        if step.kind == "wait":
            seconds = parse_duration(step.value)
            self.sleep(seconds)
            return StepResult(step, "pass", note=f"waited {seconds:g}s")
        if step.kind == "api_fault":
            return self._fault(step)
        if step.kind == "duplicate":
            source = self._earlier(step.value)
            again = [_copy(s) for s in source.sent]
            return self._judge(step, self._send(again), [])
        try:
            options = refs.resolve(step.options, self._lookup)
            value = refs.resolve(step.value, self._lookup)
        except refs.RefError as exc:
            raise UsageError(f"step {step.name!r}: {exc}") from None
        opts = steps.fire_options(step, options, value, self.scenario, self.connection, self.t.url)
        webhooks = steps.plan_webhooks(opts, step, self.t.settings)
        fire.write_api_state(self._plan(webhooks), opts, self.t.settings, self.store)
        sent = self._send(webhooks)
        return self._judge(step, sent, self._announced(sent))

    def _fault(self, step: Step) -> StepResult:
        fault = fault_of(step)
        if self.t.api is None:
            return StepResult(
                step,
                "fail",
                note="no API stand-in to fail: run with the API (the default) or --api URL",
            )
        self.t.api.apply_fault(fault)
        parts = []
        if fault.clear:
            parts.append("faults cleared")
        if fault.status is not None:
            parts.append(f"the next {fault.times} records request(s) fail with {fault.status}")
        if fault.latency is not None:
            parts.append(f"the next {fault.times} answer(s) {fault.latency:g}s late")
        if fault.short_pages is not None:
            parts.append("short pages " + ("on" if fault.short_pages else "off"))
        return StepResult(step, "pass", note="; ".join(parts))

    def _earlier(self, name: str) -> StepResult:
        sending = [r for r in self.results if r.sent]
        if name == "previous":
            if not sending:
                raise ValueError("no earlier step sent webhooks")
            return sending[-1]
        return next(r for r in self.results if r.step.name == name)

    # ------------------------------------------------------------ sending

    def _plan(self, webhooks: list[PlannedWebhook]) -> DeliveryPlan:
        return DeliveryPlan(
            webhooks=webhooks,
            policy=make_policy("none"),
            timeout=float(self.t.settings.timeout),
            env=self.t.settings.env,
            tls=self.t.tls,
        )

    def _send(self, webhooks: list[PlannedWebhook]) -> list[SentWebhook]:
        sent = execute(self._plan(webhooks), self.store, lambda event: None, self.sender)
        for item in sent:
            attempt = item.attempts[-1] if item.attempts else None
            if attempt is not None and attempt.status_code is not None:
                self.reached = True
            elif attempt is not None and attempt.error_class == "refused" and not self.reached:
                raise NothingListening(
                    f"nothing is listening at {self.t.url}",
                    hint="start your handler, or check the URL and port",
                )
            self._observe(item)
        return sent

    def _observe(self, item: SentWebhook) -> None:
        """Count accepted genuine webhooks; feed Nango's breaker what Nango would have
        seen (it never sends a forgery, so those do not count)."""
        attempt = item.attempts[-1] if item.attempts else None
        if item.expects_rejection or attempt is None:
            return
        self.sent_genuine += 1
        if attempt.outcome == "success":
            self.accepted_genuine += 1
        breaker = self.t.breaker
        if breaker is None:
            return
        if breaker.refusal(self.t.url) is not None:
            self.breaker_refusals.append(item.record.id)
        elif breaker.record(self.t.url, attempt.outcome == "success"):
            self.breaker_opened_by = item.record.id

    # ------------------------------------------------------------ judging

    def _announced(self, sent: list[SentWebhook]) -> list[Announced]:
        found = []
        for item in sent:
            if item.expects_rejection or item.record.type != "sync":
                continue
            body = _body(item)
            if not isinstance(body, dict) or body.get("success") is not True:
                continue
            results = body.get("responseResults") or {}
            changed = sum(int(results.get(k) or 0) for k in ("added", "updated", "deleted"))
            found.append(
                Announced(
                    connection=str(body.get("connectionId")),
                    integration=str(body.get("providerConfigKey")),
                    model=str(body.get("model")),
                    modified_after=str(body.get("modifiedAfter")),
                    changed=changed,
                    sent_at=item.record.created_at,
                )
            )
        return found

    def _judge(self, step: Step, sent: list[SentWebhook], announced: list[Announced]) -> StepResult:
        expect = step.expect
        default = "4xx" if any(s.expects_rejection for s in sent) else "2xx"
        outcomes = [judge.status(expect.status or default, sent)]
        if expect.within is not None:
            outcomes.append(judge.within(expect.within, sent))
        if expect.body_contains is not None:
            outcomes.append(judge.body_contains(expect.body_contains, sent))
        # Fetches and state share one wait: a handler that never fetches costs `within`
        # once, not once per expectation.
        deadline = time.monotonic() + (
            expect.fetched.within if expect.fetched is not None else judge.STATE_WAIT_S
        )
        if expect.fetched is not None:
            outcomes += self._fetched(step, announced)
        if expect.state is not None:
            outcomes += self._state(step, sent, expect.state, deadline)
        failed = [o for o in outcomes if o.ok is False]
        verdict: Verdict = "pass" if not failed else "fail" if step.required else "warn"
        cause = None
        if outcomes[0].ok is False:
            bad = next(
                (s.attempts[-1] for s in sent if s.attempts and s.attempts[-1].status_code), None
            )
            if bad is not None:
                api_url = self.t.api.url if self.t.api else None
                cause = api_calls.cause_of(self.store, bad, self.t.settings.env, api_url)
        cause = cause or next((o.cause for o in failed if o.cause), None)
        return StepResult(step, verdict, outcomes, sent, cause=cause)

    def _fetched(self, step: Step, announced: list[Announced]) -> list[Outcome]:
        assert step.expect.fetched is not None
        if self.t.api is None:
            return [Outcome("fetched", "a fetch", "no API stand-in: not judged", None)]
        if not announced:
            return [Outcome("fetched", "a fetch", "the step announced no records", False)]
        env = self.t.settings.env
        return [judge.fetched(self.store, step.expect.fetched, a, env) for a in announced]

    def _state(
        self, step: Step, sent: list[SentWebhook], template: str, deadline: float
    ) -> list[Outcome]:
        bodies = [b for b in (_body(s) for s in sent) if isinstance(b, dict)]
        integration = next(
            (str(b["providerConfigKey"]) for b in bodies if b.get("providerConfigKey")),
            self.scenario.integration or "",
        )
        models = [str(b["model"]) for b in bodies if b.get("type") == "sync" and b.get("model")]
        if not models:  # an auth deletion, say: every model the run synced
            models = sorted(
                {
                    str(b["model"])
                    for r in self.results
                    for b in (_body(s) for s in r.sent)
                    if isinstance(b, dict) and b.get("type") == "sync" and b.get("model")
                }
            )
        outcomes = []
        for model in dict.fromkeys(models):
            url = (
                template.replace("{connection}", self.connection)
                .replace("{model}", model)
                .replace("{integration}", integration)
            )
            wait = max(0.0, deadline - time.monotonic())
            outcomes.append(
                judge.state(
                    url, self.store, self.connection, integration, model, self.get_json, wait
                )
            )
        return outcomes or [Outcome("state", "the app's records", "no model to compare", False)]

    def _judge_forgeries(self) -> str | None:
        """A forgery refused counts only if the run saw the handler accept a correctly
        signed webhook: a handler that refuses everything refuses forgeries too."""
        if self.accepted_genuine:
            return None
        reason = (
            "every correctly signed webhook was refused: is the handler using environment "
            f"{self.t.settings.env!r}'s webhook signing key?"
        )
        judged = False
        for result in self.results:
            if result.step.forgery and result.outcomes and result.outcomes[0].ok:
                result.outcomes[0].ok = None
                result.outcomes[0].happened += f" (not judged: {reason})"
                result.verdict = "not judged"
                judged = True
        return reason if judged else None

    def _lookup(self, text: str) -> Any:
        parts = text.split(".")
        if parts[0] == "scenario":
            return {
                "connection": self.connection,
                "integration": self.scenario.integration,
                "name": self.scenario.name,
            }[parts[1]]
        if parts[0] == "previous":
            result, rest = self._earlier("previous"), parts[1:]
        else:
            result, rest = self._earlier(parts[1]), parts[2:]
        first = result.sent[0] if result.sent else None
        if rest[0] == "body":
            return refs.path_in(_body(first) if first else None, rest[1:], text)
        if first is None:
            raise refs.RefError(f"${{{text}}}: that step sent nothing")
        attempt = first.attempts[-1] if first.attempts else None
        return {
            "connection": first.record.connection_id,
            "integration": first.record.provider_config_key,
            "status": attempt.status_code if attempt else None,
            "webhook_id": first.record.id,
        }[rest[0]]


def _body(sent: SentWebhook) -> Any:
    try:
        return serialization.parse_json(sent.record.body)
    except (ValueError, UnicodeDecodeError):
        return None


def _copy(sent: SentWebhook) -> PlannedWebhook:
    """The same bytes and headers again (a Nango retry: there is no delivery id)."""
    record = sent.record
    webhook = PlannedWebhook(
        type=record.type,
        body=record.body,
        headers=dict(record.headers),
        targets=list(record.targets),
        sync_name=record.sync_name,
        model=record.model,
        connection_id=record.connection_id,
        provider_config_key=record.provider_config_key,
        negative=record.negative,
        expect_rejection=sent.expects_rejection,
    )
    return webhook


def _get_json(url: str) -> tuple[int | None, Any]:
    from nango_cli.delivery.httpx_sender import CallFailed, call_json

    try:
        return call_json("GET", url, timeout=10)
    except CallFailed as exc:
        return None, str(exc)
