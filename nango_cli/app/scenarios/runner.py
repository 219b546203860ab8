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

from nango_cli.app import api_calls, fire, forgeries, replay
from nango_cli.app.scenarios import calls, judge, refs, state, steps
from nango_cli.app.scenarios.judge import Announced, Outcome
from nango_cli.app.scenarios.model import Fault, Scenario, Step
from nango_cli.app.scenarios.results import RunResult, StepResult
from nango_cli.app.scenarios.schema import SchemaError, check_resolved, fault_of
from nango_cli.app.settings import Settings
from nango_cli.delivery.breaker import CircuitBreaker
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.delivery.transport import Sender, TLSOptions
from nango_cli.errors import DeliveryError, UsageError
from nango_cli.protocol import serialization
from nango_cli.storage import api_log
from nango_cli.storage.api_log import ApiRequest
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp, parse_duration


class ApiHandle(Protocol):
    """The API stand-in a scenario's handler calls back."""

    @property
    def url(self) -> str: ...

    @property
    def can_fault(self) -> bool:
        """Whether `apply_fault` can reach it (a running API needs its token)."""
        ...

    def apply_fault(self, fault: Fault) -> None: ...

    def settle(self) -> None:
        """Return once the API's request log holds every request it has answered."""
        ...

    def take_caused(self, timeout: float = 30.0) -> list[Any]:
        """The webhooks (as fire options) the calls answered so far caused."""
        ...


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
    # Hosts besides this machine a `state:` URL may name (--allow-state-host).
    state_hosts: frozenset[str] = frozenset()


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
        self.get_json = get_json or state.get_json
        self.connection = connection or scenario.connection or fresh_connection(scenario.name)
        self.results: list[StepResult] = []
        self.accepted_genuine = 0
        self.sent_genuine = 0
        self.reached = False
        self.breaker_opened_by: str | None = None
        self.breaker_refusals: list[str] = []
        self.log_mark: int | None = None

    # ------------------------------------------------------------ the run

    def run(self) -> RunResult:
        state.check_urls(self.scenario, self.t.state_hosts)
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
            return self._duplicate(step)
        try:
            options = refs.resolve(step.options, self._lookup)
            value = refs.resolve(step.value, self._lookup)
            check_resolved(step, options, value)
        except refs.RefError as exc:
            raise UsageError(
                f"{step.where(self.scenario.source)}step {step.name!r}: {exc}"
            ) from None
        except SchemaError as exc:
            raise UsageError(
                f"{step.where(self.scenario.source)}step {step.name!r}, once its references are "
                f"resolved: {exc.message}",
                hint="a reference keeps the type of what it names",
            ) from None
        if step.kind == "call":
            return calls.run(self, step, value)
        opts = steps.fire_options(step, options, value, self.scenario, self.connection, self.t.url)
        plan = steps.plan(opts, step, self.t.settings, self.t.tls)
        fire.apply_overrides(plan, self.store)
        self._mark_log(any(w.expect_rejection for w in plan.webhooks))
        log_after = calls.log_position(self) if step.expect.called else None
        began = now_timestamp()
        fired = fire.deliver(
            plan, opts, self.t.settings, self.store, sender=self.sender, sleep=self.sleep
        )
        self.observe(fired.sent)
        announced = [Announced.of(applied, began) for applied in fired.applied]
        return self.judge_step(step, fired.sent, announced, log_after)

    def _duplicate(self, step: Step) -> StepResult:
        """The original's bytes and headers again, through the replay service (a Nango
        retry: no delivery id, nothing announced anew), judged against what the original
        announced."""
        original = self._earlier(step.value)
        sources = [replay.from_record(s.record) for s in original.sent]
        plan = replay.plan(sources, self.t.settings, [self.t.url], tls=self.t.tls, as_sent=True)
        plan = steps.step_plan(plan, step, self.t.settings)
        self._mark_log(any(w.expect_rejection for w in plan.webhooks))
        sent = replay.send(plan, self.store, sender=self.sender, sleep=self.sleep)
        self.observe(sent)
        return self.judge_step(step, sent, original.announced)

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

    def observe(self, sent: list[SentWebhook]) -> None:
        """Stop at once when nothing listens; count accepted genuine webhooks; feed
        Nango's breaker what Nango would have seen (it never sends a forgery, so those
        do not count)."""
        for item in sent:
            attempt = item.attempts[-1] if item.attempts else None
            if attempt is not None and attempt.status_code is not None:
                self.reached = True
            elif attempt is not None and attempt.error_class == "refused" and not self.reached:
                raise NothingListening(
                    f"nothing is listening at {self.t.url}",
                    hint="start your handler, or check the URL and port",
                )
            if item.expects_rejection or attempt is None:
                continue
            self.sent_genuine += 1
            if attempt.outcome == "success":
                self.accepted_genuine += 1
            breaker = self.t.breaker
            if breaker is None:
                continue
            if breaker.refusal(self.t.url) is not None:
                self.breaker_refusals.append(item.record.id)
            elif breaker.record(self.t.url, attempt.outcome == "success"):
                self.breaker_opened_by = item.record.id

    # ------------------------------------------------------------ judging

    def judge_step(
        self,
        step: Step,
        sent: list[SentWebhook],
        announced: list[Announced],
        log_after: int | None = None,
    ) -> StepResult:
        expect = step.expect
        forged = [s for s in sent if s.expects_rejection]
        if forged and not expect.status:
            # A forgery's verdict is app/forgeries.py's (provisional until the run is
            # over: it counts only against an accepted control).
            under = self._calls_under(forged)
            provisional = forgeries.Control(True)
            verdicts = [forgeries.judge(s, calls, provisional, step.sign) for s, calls in under]
            outcomes = [judge.forgery_outcome(verdicts)]
        else:
            under = []
            outcomes = [judge.status(expect.status or "2xx", sent)]
        if expect.within is not None:
            outcomes.append(judge.within(expect.within, sent))
        if expect.body_contains is not None:
            outcomes.append(judge.body_contains(expect.body_contains, sent))
        # Fetches and state share one wait: a handler that never fetches costs `within`
        # once, not once per expectation. A webhook the handler refused is not waited
        # on: it had its chance to fetch before it answered.
        wait = expect.fetched.within if expect.fetched is not None else judge.STATE_WAIT_S
        if outcomes[0].ok is False:
            wait = 0.0
        deadline = time.monotonic() + wait
        if expect.fetched is not None:
            outcomes += self._fetched(step, announced, deadline)
        if expect.state is not None:
            since = announced[0].sent_at if announced else None
            outcomes += self._state(step, sent, expect.state, deadline, since)
        if expect.called:
            outcomes += calls.called(self, step, log_after, deadline)
        judge.explain_swallowed(outcomes, sent)
        cause = None
        if outcomes[0].ok is False and not forged:
            bad = next(
                (s.attempts[-1] for s in sent if s.attempts and s.attempts[-1].status_code), None
            )
            if bad is not None:
                api_url = self.t.api.url if self.t.api else None
                cause = api_calls.cause_of(self.store, bad, self.t.settings.env, api_url)
        failed = [o for o in outcomes if o.ok is False]
        cause = cause or next((o.cause for o in failed if o.cause), None)
        result = StepResult(step, judge.step_verdict(step, outcomes), outcomes, sent, cause=cause)
        result.announced = announced
        result.forgeries = under
        return result

    def _mark_log(self, forged: bool) -> None:
        """Before a forgery goes: where the API's log ends, once every call made so far
        is in it (what comes after is the forgery's to answer for)."""
        self.log_mark = None
        if forged and self.t.api is not None:
            self.t.api.settle()
            self.log_mark = api_log.position(self.store)

    def _calls_under(self, forged: list[SentWebhook]) -> list[tuple[SentWebhook, list[ApiRequest]]]:
        if self.t.api is not None:
            self.t.api.settle()
        return [(s, forgeries.calls_under(self.store, s, self.log_mark)) for s in forged]

    def _fetched(self, step: Step, announced: list[Announced], deadline: float) -> list[Outcome]:
        assert step.expect.fetched is not None
        if self.t.api is None:
            return [Outcome("fetched", "a fetch", "no API stand-in: not judged", None)]
        if not announced:
            what = "its original" if step.kind == "duplicate" else "the step"
            return [
                Outcome(
                    "fetched",
                    "a fetch",
                    f"{what} announced no record changes (a sync success with counts): "
                    "nothing to fetch",
                    False,
                )
            ]
        env = self.t.settings.env
        return [
            judge.fetched(
                self.store,
                step.expect.fetched,
                a,
                env,
                wait=max(0.0, deadline - time.monotonic()),
            )
            for a in announced
        ]

    def _state(
        self,
        step: Step,
        sent: list[SentWebhook],
        template: str,
        deadline: float,
        since: str | None = None,
    ) -> list[Outcome]:
        bodies = [b for b in (_body(s) for s in sent) if isinstance(b, dict)]
        integration = next(
            (str(b["providerConfigKey"]) for b in bodies if b.get("providerConfigKey")),
            self.scenario.integration or "",
        )
        # The step's own connection (a `connection:` option), else the scenario's.
        connection = next(
            (s.record.connection_id for s in sent if s.record.connection_id), self.connection
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
                template.replace("{connection}", connection)
                .replace("{model}", model)
                .replace("{integration}", integration)
            )
            wait = max(0.0, deadline - time.monotonic())
            outcomes.append(
                state.state(
                    url,
                    self.store,
                    connection,
                    integration,
                    model,
                    self.get_json,
                    wait,
                    since=since,
                )
            )
        return outcomes or [Outcome("state", "the app's records", "no model to compare", False)]

    def _judge_forgeries(self) -> str | None:
        """Each forgery judged again now the run is over: a refusal counts only if the
        run saw the handler accept a correctly signed webhook (a handler that refuses
        everything refuses forgeries too). The verdicts go into history."""
        reason = (
            "every correctly signed webhook was refused: is the handler using environment "
            f"{self.t.settings.env!r}'s webhook signing key?"
        )
        control = forgeries.Control(self.accepted_genuine > 0, reason)
        unjudged = False
        decided: list[tuple[SentWebhook, forgeries.ForgeryVerdict]] = []
        for result in self.results:
            if not result.forgeries:
                continue
            verdicts = [
                forgeries.judge(sent, calls, control, result.step.sign)
                for sent, calls in result.forgeries
            ]
            decided += zip([sent for sent, _ in result.forgeries], verdicts, strict=True)
            outcome = judge.forgery_outcome(verdicts)
            result.outcomes[0] = outcome
            result.verdict = judge.step_verdict(result.step, result.outcomes)
            unjudged = unjudged or outcome.ok is None
        forgeries.record(self.store, decided)
        return reason if unjudged else None

    def resolve(self, value: Any) -> Any:
        """`value` with its `${...}` references resolved."""
        return refs.resolve(value, self._lookup)

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
