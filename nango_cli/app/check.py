"""`check`: a conformance suite for the user's webhook handler, against Nango's contract.

`check` is a built-in scenario: each check is one or two steps (check_steps.py), run
by the scenario runner like any scenario file (one code path: the same webhooks,
signing, announced records, sending and fetch judging), on a connection of its own
so a run never touches the records the user develops against. This module maps the
steps' results to the checks' report; nothing here prints.

The suite cannot be fooled by a handler that rejects everything: the security
checks (a forged webhook must be refused) count only when the same run saw the
handler accept a correctly signed webhook; otherwise they are "not judged" and the
report says why.
"""

from __future__ import annotations

from collections.abc import Callable

from nango_cli.app.check_specs import (
    BODY_LIMITS,
    BREAKER_CHECK,
    CHECKS,
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
from nango_cli.app.check_steps import check_scenario
from nango_cli.app.scenarios.runner import (
    ApiHandle,
    NothingListening,
    RunResult,
    RunTarget,
    ScenarioRunner,
    StepResult,
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
    if spec.name == "large-body":
        happened += f" (a {LARGE_BODY_BYTES // 1000} kB body was refused: {BODY_LIMITS})"
        brief += f" (a {LARGE_BODY_BYTES // 1000} kB body)"
        fix = BODY_LIMITS
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


def _rejected(spec: CheckSpec, sent: SentWebhook, policy: RetryPolicy) -> CheckResult:
    attempt = sent.attempts[0] if sent.attempts else None
    ids = [sent.record.id]
    if attempt is None or attempt.status_code is None:
        return spec.result(describe(attempt) if attempt else "not sent", "fail", ids)
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
        nango_would(policy, attempt),
        brief=f"{brief} (not a 4xx)",
        answer=answer,
    )


def _fetches(spec: CheckSpec, steps: list[StepResult]) -> CheckResult:
    (result,) = steps
    ids = result.webhook_ids
    if result.outcomes[0].ok is False:  # the webhook itself was not taken
        return _accepted(spec, result.sent, make_policy("none"), result.cause)
    fetched = [o for o in result.outcomes if o.name == "fetched"]
    bad = next((o for o in fetched if o.ok is not True), None)
    if bad is None:
        return spec.result("fetched " + "; ".join(o.happened for o in fetched), "pass", ids)
    return spec.result(bad.happened, "fail", ids, cause=bad.cause)


def _result(spec: CheckSpec, steps: list[StepResult], policy: RetryPolicy) -> CheckResult:
    if spec.name == "fetches-records":
        return _fetches(spec, steps)
    sent = [s for step in steps for s in step.sent]
    if spec.role == "reject":
        return _rejected(spec, sent[0], policy)
    cause = next((step.cause for step in steps if step.cause), None)
    return _accepted(spec, sent, policy, cause)


def _judge_security(results: list[CheckResult], run: RunResult, env: str) -> None:
    """Security checks count only if a genuine webhook got through in this run."""
    if run.accepted_genuine:
        return
    reason = (
        f"every correctly signed webhook was rejected ({run.sent_genuine} sent): "
        f"is the handler using environment {env!r}'s webhook signing key?"
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
                f"check {unavailable[0]!r} needs the API the handler fetches from",
                hint="start `nango-hooks api` (or `dev`) on this machine, or pass --api URL",
            )
        raise UsageError(
            f"check {unavailable[0]!r} needs the {needs} setting",
            hint=f"set it with `nango-hooks config set {needs} …`",
        )
    specs = [spec for spec in CHECKS if spec.name in names]
    scenario = check_scenario(target, specs)
    policy = make_policy(target.policy)
    results: dict[str, CheckResult] = {}
    done: dict[str, list[StepResult]] = {}
    expected = {s.name: sum(1 for step in scenario.steps if step.group == s.name) for s in specs}

    def on_step(step: StepResult) -> None:
        group = step.step.group
        if group is None:  # the control
            return
        done.setdefault(group, []).append(step)
        if len(done[group]) == expected[group]:
            result = _result(SPECS[group], done[group], policy)
            results[group] = result
            if SPECS[group].role != "reject":
                on_result(result)

    run_target = RunTarget(target.url, settings, api, target.tls, target.breaker)
    runner = ScenarioRunner(
        scenario,
        run_target,
        store,
        sender=sender,
        on_step=on_step,
        connection=target.connection_id,
    )
    run = runner.run()
    ordered = [results[s.name] for s in specs]
    _judge_security(ordered, run, settings.env)
    for result in ordered:
        if SPECS[result.name].role == "reject":
            on_result(result)
    breaker = _breaker_result(target, run)
    if breaker is not None:
        ordered.append(breaker)
        on_result(breaker)
    return ordered, run
