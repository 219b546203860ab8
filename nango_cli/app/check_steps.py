"""`check`'s built-in scenario: the steps of each check, as a scenario file would
write them (most are one step; `duplicate` is a sync and its byte-identical resend)."""

from __future__ import annotations

from typing import Any

from nango_cli.app.check_specs import LARGE_BODY_BYTES, CheckSpec, CheckTarget
from nango_cli.app.scenarios.model import Expect, Fetched, Scenario, Step

# How each forgery is signed (model.SIGN_MODES).
_FORGERIES = {
    "tampered-body": "tampered",
    "wrong-key": "bad",
    "missing-signature": "none",
    "secret-key": "secret-key",
    "legacy-only": "legacy-only",
}


def _sync(name: str, t: CheckTarget, group: str, **options: Any) -> Step:
    options.setdefault("models", [t.models[0]])
    return Step("sync", name, value=t.sync_name, options=options, group=group)


def steps_for(spec: CheckSpec, t: CheckTarget) -> list[Step]:
    name = spec.name
    if name in _FORGERIES:
        # Judged by app/forgeries.py (acted on, refused, refused badly, not judged).
        step = _sync(name, t, name, sign=_FORGERIES[name])
        step.required = spec.required
        return [step]
    if name == "sync":
        return [_sync(name, t, name, added=1)]
    if name == "sync-error":
        return [
            _sync(
                name,
                t,
                name,
                models=list(t.models),
                failed=True,
                error_message="nango-hooks check: simulated failure",
            )
        ]
    if name == "sync-checkpoints":
        # As Nango sends them since its checkpoint syncs: the key absent, null, and a
        # first run's (from: null).
        first_run = {"from": None, "to": {"cursor": "nango-hooks-check", "page": 1}}
        return [
            _sync(f"{name} (absent)", t, name, added=1),
            _sync(f"{name} (null)", t, name, added=1, set={"checkpoints": None}),
            _sync(f"{name} (from null)", t, name, added=1, set={"checkpoints": first_run}),
        ]
    if name == "auth-refresh-recovery":
        return [Step("auth", name, value="refresh", group=name)]
    if name == "forward-unmatched":
        external = {"event": "nango-hooks-check", "account": "no-such-connection"}
        return [Step("forward", name, value=external, options={"unmatched": True}, group=name)]
    if name in ("auth-creation", "auth-refresh-failure", "auth-deletion"):
        operation = name.split("-")[1]
        options: dict[str, Any] = {"failed": True} if operation == "refresh" else {}
        if operation == "creation" and not t.end_user:
            options["end_user"] = False
        step = Step("auth", name, value=operation, options=options, group=name)
        if operation == "deletion" and t.state_url and t.deletion_clears:
            step.expect = Expect(state=t.state_url)
        return [step]
    if name in ("forward", "large-body"):
        payload: dict[str, Any] = {"action": "nango-hooks-check"}
        if name == "large-body":
            payload["padding"] = "x" * LARGE_BODY_BYTES
        return [Step("forward", name, value=payload, group=name, required=spec.required)]
    if name == "async-action":
        return [Step("async_action", name, value=True, group=name)]
    if name == "unknown-type":
        body = {
            "from": "nango",
            "type": "nango_hooks_future_type",
            "connectionId": "${scenario.connection}",
            "providerConfigKey": t.integration,
            "payload": {"new": True},
        }
        return [Step("body", name, value=body, group=name)]
    if name == "duplicate":
        first = _sync(name, t, name, added=7)
        return [first, Step("duplicate", f"{name} (again)", value=name, group=name)]
    if name == "concurrent-models":
        # A one-model sync: three of its webhooks at once stand in for N models.
        models = list(t.models) if len(t.models) > 1 else [t.models[0]] * 3
        return [_sync(name, t, name, models=models)]
    if name == "rotation":
        return [_sync(name, t, name, sign="previous-key")]
    if name == "fetches-records":
        # Pages of at most two records, whatever limit the handler asks for (Nango's
        # response budget cuts a page at any size and keeps next_cursor).
        step = _sync(name, t, name, added=3, updated=1, deleted=1)
        step.expect = _fetch_expectation(t)
        return [
            Step("api_fault", f"{name} (short pages)", value={"short_pages": 2}, group=name),
            step,
            Step("api_fault", f"{name} (full pages)", value={"short_pages": False}, group=name),
        ]
    if name == "api-fault":
        # Nango's API fails the handler's first records request; the webhook is sent as
        # the environment's retry policy sends it.
        step = _sync(name, t, name, added=2, retry=True)
        step.expect = _fetch_expectation(t)
        return [
            Step("api_fault", f"{name} (API fails once)", value={"status": 500}, group=name),
            step,
            Step("api_fault", f"{name} (cleared)", value={"clear": True}, group=name),
        ]
    raise ValueError(name)


def _fetch_expectation(t: CheckTarget) -> Expect:
    return Expect(
        status="2xx", fetched=Fetched(all_pages=True, within=t.fetch_wait), state=t.state_url
    )


def check_scenario(target: CheckTarget, specs: list[CheckSpec]) -> Scenario:
    """The checks as one scenario; with only security checks, a correctly signed sync
    first (the control: whether the handler takes genuine webhooks)."""
    steps = [step for spec in specs for step in steps_for(spec, target)]
    if any(s.role == "reject" for s in specs) and not any(s.role == "accept" for s in specs):
        steps.insert(0, _sync("control", target, "", added=1))
        steps[0].group = None
    return Scenario(
        name="check",
        steps=steps,
        integration=target.integration,
        connection=target.connection_id,
        sync=target.sync_name,
    )
