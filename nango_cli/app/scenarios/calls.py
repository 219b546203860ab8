"""A scenario's `call` step (a request to the API stand-in, as the user's backend makes
it; the webhooks it causes go to the handler) and the `called` expectation (the
handler made these API calls while it handled the step)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nango_cli.app import fire
from nango_cli.app.scenarios.judge import Announced, Outcome
from nango_cli.storage import api_log

if TYPE_CHECKING:
    from nango_cli.app.scenarios.model import Step
    from nango_cli.app.scenarios.results import StepResult
    from nango_cli.app.scenarios.runner import ScenarioRunner

CALL_TIMEOUT_S = 30.0


def run(runner: ScenarioRunner, step: Step, value: dict[str, Any]) -> StepResult:
    from nango_cli.app.scenarios.results import StepResult
    from nango_cli.delivery.httpx_sender import CallFailed, call_json
    from nango_cli.support.timefmt import now_timestamp

    api = runner.t.api
    method, path = str(value["method"]).upper(), str(value["path"])
    if api is None:
        return StepResult(
            step, "fail", note="no API stand-in to call: run with the API (the default)"
        )
    # Webhooks the handler's own calls caused earlier are not this call's: a scenario
    # sends what its `call` steps cause, nothing else.
    earlier = api.take_caused(CALL_TIMEOUT_S)
    bearer = runner.t.settings.secret_key or "nango-hooks"
    headers = {"Authorization": f"Bearer {bearer}", **(value.get("headers") or {})}
    began = now_timestamp()
    try:
        status, answer = call_json(
            method, api.url.rstrip("/") + path, headers=headers, json_body=value.get("body")
        )
    except CallFailed as exc:
        return StepResult(step, "fail", note=f"{method} {path}: {exc}")
    if not 200 <= status < 300:
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        return StepResult(
            step,
            "fail",
            note=f"{method} {path}: the API answered {status} {error.get('code', '')}".rstrip(),
            cause=str(error.get("message") or "") or None,
        )
    # What the handler calls from here on is the handler's, not this call.
    log_after = log_position(runner)
    sent, announced = [], []
    for opts in api.take_caused(CALL_TIMEOUT_S):
        opts.urls = [runner.t.url]
        plan = fire.prepare(opts, runner.t.settings, runner.store, runner.t.tls)
        fire.apply_overrides(plan, runner.store)
        fired = fire.deliver(
            plan, opts, runner.t.settings, runner.store, sender=runner.sender, sleep=runner.sleep
        )
        runner.observe(fired.sent)
        sent += fired.sent
        announced += [Announced.of(applied, began) for applied in fired.applied]
    dropped = (
        f"; {len(earlier)} webhook(s) the handler's own API calls caused earlier were not "
        "sent (a scenario sends what its call steps cause)"
        if earlier
        else ""
    )
    if not sent:
        outcomes = called(runner, step, log_after, time.monotonic() + 5.0)
        failed = any(o.ok is False for o in outcomes)
        note = f"{method} {path}: {status}; it causes no webhook{dropped}"
        return StepResult(step, "fail" if failed else "pass", outcomes, note=note)
    result = runner.judge_step(step, sent, announced, log_after)
    result.note = f"{method} {path}: {status}{dropped}"
    return result


def log_position(runner: ScenarioRunner) -> int | None:
    """Where the API's request log ends, once every call answered so far is in it."""
    if runner.t.api is None:
        return None
    runner.t.api.settle()
    return api_log.position(runner.store)


def called(
    runner: ScenarioRunner, step: Step, log_after: int | None, deadline: float
) -> list[Outcome]:
    """Each expected call (method, path, body_contains) among the API's requests logged
    after `log_after`, waiting until `deadline` for the last of them."""
    wanted = step.expect.called or []
    if not wanted:
        return []
    if runner.t.api is None or log_after is None:
        return [Outcome("called", "API calls", "no API stand-in: not judged", None)]
    resolved = [runner.resolve(dict(w)) for w in wanted]
    while True:
        runner.t.api.settle()
        made = api_log.api_requests(runner.store, None, limit=1000, after=log_after)
        missing = [w for w in resolved if not any(_matches(w, r) for r in made)]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    expected = ", ".join(_describe(w) for w in resolved)
    if not missing:
        return [Outcome("called", expected, "all made", True)]
    seen = ", ".join(f"{r.method} {r.path}" for r in made[-5:]) or "no API call"
    return [
        Outcome(
            "called",
            expected,
            f"not made: {', '.join(_describe(w) for w in missing)} (made: {seen})",
            False,
            cause="the handler did not make the API call the scenario expects while it "
            "handled the step; check its code path for this webhook",
        )
    ]


def _matches(wanted: dict[str, Any], request: Any) -> bool:
    if str(wanted.get("method", request.method)).upper() != request.method.upper():
        return False
    # The Node SDK asks for `/records/`: a trailing slash names the same route.
    if "path" in wanted and wanted["path"].rstrip("/") != request.path.rstrip("/"):
        return False
    needle = wanted.get("body_contains")
    return needle is None or needle in (request.body or "")


def _describe(wanted: dict[str, Any]) -> str:
    text = f"{str(wanted.get('method', '*')).upper()} {wanted.get('path', '*')}"
    if wanted.get("body_contains") is not None:
        text += f" with {wanted['body_contains']!r}"
    return text
