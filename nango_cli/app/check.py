"""`check`: a conformance suite for the user's webhook handler, against Nango's contract.

`check` is a built-in scenario: each check is one or two steps (check_steps.py), run
by the scenario runner like any scenario file (one code path: the same webhooks,
signing, announced records, sending and fetch judging), on a connection of its own
so a run never touches the records the user develops against. This module maps the
steps' results to the checks' report; nothing here prints.

The forgeries' verdicts are app/forgeries.py's, as the run decided them: acting on a
forgery (a 2xx, or a call to the API for its connection) fails; a refusal counts only
when the same run saw the handler accept a correctly signed webhook, otherwise it is
"not judged" and the report says why. The fetch checks are judged on what the
handler read (app/scenarios/judge.py), and with --state on what it holds.
"""

from __future__ import annotations

from collections.abc import Callable

from nango_cli.app.check_specs import (
    BODY_LIMITS,
    BREAKER_CHECK,
    CHECKS,
    FIXES,
    LARGE_BODY_BYTES,
    SPECS,
    CheckResult,
    CheckSpec,
    CheckTarget,
    CheckVerdict,
    answer_excerpt,
    available,
    describe,
    nango_would,
)
from nango_cli.app.check_steps import check_scenario
from nango_cli.app.scenarios.results import RunResult, StepResult
from nango_cli.app.scenarios.runner import (
    ApiHandle,
    NothingListening,
    RunTarget,
    ScenarioRunner,
)
from nango_cli.app.settings import Settings
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.delivery.retry import RetryPolicy, make_policy
from nango_cli.delivery.transport import Sender
from nango_cli.errors import UsageError
from nango_cli.storage.webhooks import Store

__all__ = ["NothingListening", "run_checks"]


def _accepted(
    spec: CheckSpec, sent: list[SentWebhook], policy: RetryPolicy, cause: str | None
) -> CheckResult:
    attempts = [s.attempts[0] for s in sent if s.attempts]
    ids = [s.record.id for s in sent]
    bad = [a for a in attempts if a.outcome != "success"]
    brief = "; ".join(describe(a) for a in attempts)
    if not bad:
        return spec.result(brief, "pass", ids)
    happened = "; ".join(describe(a, detail=True) for a in attempts)
    fix = None
    if spec.name == "large-body" and any(a.status_code == 413 for a in bad):
        happened += f" (a {LARGE_BODY_BYTES // 1000} kB body was refused: {BODY_LIMITS})"
        brief += f" (a {LARGE_BODY_BYTES // 1000} kB body)"
        fix = BODY_LIMITS
    fix = fix or FIXES.get(spec.name)
    return spec.result(
        happened,
        "warn" if spec.role == "advisory" else "fail",
        ids,
        nango_would(policy, bad[0]),
        cause,
        brief=brief,
        answer=answer_excerpt(bad[0], 200) or None,
        fix=fix,
    )


def _forgery(spec: CheckSpec, step: StepResult, policy: RetryPolicy) -> CheckResult:
    """The forgery's verdict, as the run decided it (app/forgeries.py)."""
    outcome = step.outcomes[0]
    ids = step.webhook_ids
    attempt = step.sent[0].attempts[-1] if step.sent and step.sent[0].attempts else None
    answer = (answer_excerpt(attempt, 200) or None) if attempt else None
    if outcome.ok is None:
        brief = describe(attempt) if attempt else None
        return spec.result(outcome.happened, "not judged", ids, brief=brief, answer=answer)
    if outcome.ok is False:
        verdict: CheckVerdict = "fail" if spec.required else "warn"
        return spec.result(outcome.happened, verdict, ids, answer=answer, fix=outcome.cause)
    if outcome.warn:
        would = nango_would(policy, attempt) if attempt else None
        return spec.result(outcome.happened, "warn", ids, would, answer=answer, fix=outcome.cause)
    return spec.result(outcome.happened, "pass", ids)


def _judged(spec: CheckSpec, step: StepResult) -> CheckResult:
    """A check judged on outcomes beyond the answer (fetches-records, api-fault): the
    first that did not hold, with its cause."""
    ids = step.webhook_ids
    if step.outcomes[0].ok is False:  # the webhook itself was not taken
        return _accepted(spec, step.sent, make_policy("none"), step.cause)
    bad = next((o for o in step.outcomes if o.ok is not True), None)
    if bad is None:
        held = "; ".join(o.happened for o in step.outcomes if o.name in ("fetched", "state"))
        return spec.result(held, "pass", ids)
    return spec.result(bad.happened, "fail", ids, cause=bad.cause or step.cause)


def _result(spec: CheckSpec, steps: list[StepResult], policy: RetryPolicy) -> CheckResult:
    sending = [step for step in steps if step.step.kind != "api_fault"]
    if spec.role == "reject":
        return _forgery(spec, sending[0], policy)
    if spec.name in ("fetches-records", "api-fault"):
        return _judged(spec, sending[0])
    sent = [s for step in sending for s in step.sent]
    cause = next((step.cause for step in sending if step.cause), None)
    result = _accepted(spec, sent, policy, cause)
    state = [o for step in sending for o in step.outcomes if o.name == "state" and not o.ok]
    if result.verdict == "pass" and state:  # auth-deletion with --deletion-clears
        return spec.result(state[0].happened, "fail", result.webhook_ids)
    return result


def _shared_cause(run: RunResult, env: str) -> str | None:
    """One cause for a run in which every genuine webhook got the same refusal: the
    handler's route or its key, before anything a single check says."""
    codes = {
        s.attempts[-1].status_code or 0
        for step in run.steps
        for s in step.sent
        if not s.expects_rejection and s.attempts
    }
    if codes == {404}:
        return (
            "every webhook was answered 404: wrong path? The URL's path must be the "
            "handler's route (as in Nango's webhook settings, e.g. /webhooks/nango)"
        )
    if codes and codes <= {401, 403}:
        return (
            f"every correctly signed webhook was answered {'/'.join(map(str, sorted(codes)))}"
            f": the signing key first: is the handler's webhook signing key environment "
            f"{env!r}'s (`nango-hooks config get signing_key`)?"
        )
    return None


def _not_judged_reason(results: list[CheckResult], run: RunResult, env: str) -> str | None:
    """Why the security checks were not judged, with what the secret-key check adds."""
    if run.accepted_genuine:
        return None
    reason = (
        f"every correctly signed webhook was refused ({run.sent_genuine} sent): "
        f"is the handler using environment {env!r}'s webhook signing key?"
    )
    secret = next((r for r in results if r.name == "secret-key"), None)
    if secret is not None and secret.verdict == "fail":
        reason += (
            " It accepted the webhook signed with the API secret key: it verifies with "
            "the secret key; Nango signs with the webhook signing key"
        )
    return reason


def _breaker_result(target: CheckTarget, run: RunResult) -> CheckResult | None:
    if run.breaker_opened_by is None:
        return None
    b = target.breaker
    refused = len(run.breaker_refusals)
    later = f"; Nango would have refused {refused} later webhook(s) of this run" if refused else ""
    return CheckResult(
        BREAKER_CHECK,
        f"at most {b.threshold} failures within {b.window_s:g}s",
        f"the handler's failures would have opened Nango's circuit breaker for {target.url}{later}",
        "warn",
        False,
        f"while open ({b.cooldown_s:g}s) every webhook to this URL, for every "
        "connection, fails at once (circuit_breaker_open) and is not retried: "
        "a brief outage loses other connections' webhooks",
        [run.breaker_opened_by, *run.breaker_refusals],
    )


def run_checks(
    target: CheckTarget,
    settings: Settings,
    store: Store,
    names: list[str],
    on_result: Callable[[CheckResult], None] = lambda r: None,
    sender: Sender | None = None,
    api: ApiHandle | None = None,
) -> tuple[list[CheckResult], RunResult]:
    """Run the named checks as the built-in scenario; their results, in CHECKS order
    (the security checks judged once the run is over), and the run itself."""
    unavailable = [n for n in names if n not in available(target)]
    if unavailable:
        needs = SPECS[unavailable[0]].needs
        if needs == "api":
            raise UsageError(
                f"check {unavailable[0]!r} plays faults on the API the handler fetches from, "
                "and this one's internal token is not known here",
                hint="leave out --api (check serves the API itself), or use the `nango-hooks "
                "api` or `dev` running on this machine",
            )
        raise UsageError(
            f"check {unavailable[0]!r} needs the {needs} setting",
            hint=f"set it with `nango-hooks config set {needs} …`",
        )
    specs = [spec for spec in CHECKS if spec.name in names]
    scenario = check_scenario(target, specs)
    policy = make_policy(target.policy)
    run_target = RunTarget(
        target.url, settings, api, target.tls, target.breaker, state_hosts=target.state_hosts
    )
    runner = ScenarioRunner(
        scenario,
        run_target,
        store,
        sender=sender,
        connection=target.connection_id,
    )
    run = runner.run()
    done: dict[str, list[StepResult]] = {}
    for step in run.steps:
        if step.step.group is not None:  # None: the control
            done.setdefault(step.step.group, []).append(step)
    ordered = [_result(spec, done[spec.name], policy) for spec in specs]
    reason = _not_judged_reason(ordered, run, settings.env)
    shared = _shared_cause(run, settings.env)
    for result in ordered:
        if result.verdict == "not judged" and reason:
            result.reason = reason
        if result.verdict == "fail" and shared and SPECS[result.name].role != "reject":
            result.cause = shared
    breaker = _breaker_result(target, run)
    if breaker is not None:
        ordered.append(breaker)
    for result in ordered:
        on_result(result)
    return ordered, run
