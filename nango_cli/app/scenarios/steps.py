"""A step's webhooks: its options as `fire`'s (the same names), planned by the fire
service, then signed as the step says (Nango's way, or a forgery to be refused)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from nango_cli.app import fire
from nango_cli.app.bodies import FireOptions
from nango_cli.app.scenarios.model import FORGERIES, TAMPERED_SUFFIX, Scenario, Step
from nango_cli.app.settings import Settings
from nango_cli.delivery.outbox import DeliveryPlan, PlannedWebhook
from nango_cli.delivery.retry import RetryPolicy, make_policy
from nango_cli.delivery.transport import TLSOptions
from nango_cli.errors import UsageError
from nango_cli.protocol import serialization
from nango_cli.protocol.headers import signed_headers
from nango_cli.support import files

# The endUser a successful creation or override carries unless the step says otherwise
# (`end_user: false`, or its own end_user_id): Connect sessions add one.
CONNECT_END_USER = {
    "endUserId": "nango-hooks-end-user",
    "endUserEmail": "end-user@example.com",
    "organizationId": "nango-hooks-org",
}

# `sign` values fire signs itself; the others are signed here.
_FIRE_SIGNS = ("both", "hmac-only", "legacy-only", "bad", "none")


def fire_options(
    step: Step, options: dict[str, Any], value: Any, scenario: Scenario, connection: str, url: str
) -> FireOptions:
    """The fire options of a webhook step (options and value with references resolved)."""
    opts = FireOptions(
        kind=step.kind,
        connection_id=str(options.get("connection") or connection),
        integration=options.get("integration") or scenario.integration,
        urls=[url],
        force=True,  # a scenario sends what it lists, whatever the send_* settings
        control=False,  # the run judges forgeries against its genuine webhooks
        circuit_breaker=False,
        sign_mode=step.sign if step.sign in _FIRE_SIGNS else "both",
    )
    edits = options.get("set") or {}
    opts.sets = [f"{path}={json.dumps(item)}" for path, item in edits.items()]
    if step.kind == "sync":
        _sync_options(opts, step, options, value, scenario)
    elif step.kind == "auth":
        opts.auth_operation = str(value)
        opts.failed = bool(options.get("failed"))
        opts.error_message = options.get("error_message")
        opts.provider = options.get("provider")
        opts.auth_mode = options.get("auth_mode")
        opts.end_user_id = options.get("end_user_id")
        opts.end_user_email = options.get("end_user_email")
        opts.organization_id = options.get("organization_id")
        opts.tags = dict(options.get("tags") or {})
        connect = opts.auth_operation in ("creation", "override") and not opts.failed
        if connect and opts.end_user_id is None and options.get("end_user", True):
            # As a connection made through a Connect session (`check` sends the same).
            opts.end_user_id = CONNECT_END_USER["endUserId"]
            opts.end_user_email = CONNECT_END_USER["endUserEmail"]
            opts.organization_id = CONNECT_END_USER["organizationId"]
    elif step.kind == "forward":
        opts.forward_body = serialization.serialize(value)
        opts.forward_headers = list((options.get("headers") or {}).items())
        opts.provider = options.get("provider")
        opts.unmatched = bool(options.get("unmatched"))
    elif step.kind == "async_action":
        opts.result = None if value is True else value
        opts.action_id = options.get("action_id")
    elif step.kind == "body":
        opts.raw_body = _body_bytes(value, scenario)
        opts.connection_id = None
        opts.integration = None
    return opts


def _sync_options(
    opts: FireOptions, step: Step, options: dict[str, Any], value: Any, scenario: Scenario
) -> None:
    name = value if isinstance(value, str) else scenario.sync
    if not name:
        raise UsageError(
            f"step {step.name!r}: which sync? write `sync: NAME`, or `sync: NAME` at the top"
        )
    opts.sync_name = name
    counts = {}
    for key in ("added", "updated", "deleted"):
        given = options.get(key)
        counts[key] = (
            {None: given} if isinstance(given, int) else dict(given) if given is not None else {}
        )
    opts.added, opts.updated, opts.deleted = counts["added"], counts["updated"], counts["deleted"]
    # No `models:`: the config's or the project's (as `fire` resolves them; the models
    # the counts name stand in only for a sync neither knows).
    opts.models = list(options.get("models") or [])
    opts.sync_type = "INITIAL" if options.get("initial") else None
    opts.failed = bool(options.get("failed"))
    opts.error_message = options.get("error_message")
    opts.modified_after = options.get("modified_after")
    opts.variant = options.get("variant")
    opts.seed = int(options.get("seed") or 0)


def _body_bytes(value: Any, scenario: Scenario) -> bytes:
    """An object, serialized as Nango would; or a file in the scenario's folder, sent as
    is: a regular file of at most 16 MB (schema.py refuses any other before the run)."""
    if isinstance(value, dict):
        return serialization.serialize(value)
    try:
        path = files.inside(scenario_folder(scenario.source), str(value))
    except ValueError as exc:
        raise UsageError(f"body file: {exc}") from None
    return files.read_regular_limited(path, files.DEFAULT_INPUT_LIMIT, "body file")


def scenario_folder(source: str | None) -> Path:
    """Where a scenario's files are: its own folder (the working directory for one
    that was not read from a file)."""
    return Path(source).parent if source else Path.cwd()


def policy_for(step: Step, settings: Settings) -> RetryPolicy:
    """A step's webhooks are sent once (the answer is what is judged; a `duplicate` step
    models Nango's retry), unless it says `retry: true`: then as the environment's
    retry policy sends them."""
    if step.options.get("retry") is True:
        return make_policy(settings.retry_policy, settings.retries)
    return make_policy("none")


def plan(opts: FireOptions, step: Step, settings: Settings, tls: TLSOptions) -> DeliveryPlan:
    """A webhook step's plan: the fire service's, signed as the step says."""
    fire_plan = fire.plan(opts, settings, tls)
    fire_plan.webhooks = _signed(fire_plan.webhooks, step, settings)
    return step_plan(fire_plan, step, settings)


def step_plan(service_plan: DeliveryPlan, step: Step, settings: Settings) -> DeliveryPlan:
    """A fire or replay plan as a step sends it: as `policy_for` says, without the
    breaker (the run judges what Nango's would have done, apart)."""
    return dataclasses.replace(service_plan, policy=policy_for(step, settings), breaker=None)


def _signed(planned: list[PlannedWebhook], step: Step, settings: Settings) -> list[PlannedWebhook]:
    """The webhooks signed as the step says (UsageError for a key the environment
    lacks)."""
    sign = step.sign
    if sign in _FIRE_SIGNS:
        if sign == "legacy-only":
            for webhook in planned:
                webhook.expect_rejection = True  # X-Nango-Signature alone: refuse it
        return planned
    key = {
        "tampered": settings.signing_key,
        "secret-key": settings.secret_key,
        "previous-key": settings.previous_signing_key,
    }[sign]
    if not key:
        setting = {"secret-key": "secret_key", "previous-key": "previous_signing_key"}.get(
            sign, "signing_key"
        )
        raise UsageError(
            f"step {step.name!r}: sign {sign} needs the environment's {setting}",
            hint=f"nango-hooks config set {setting} …, or drop the step",
        )
    signed = []
    for webhook in planned:
        headers = signed_headers(webhook.body, key)
        body = webhook.body
        if sign == "tampered":
            # Signed, then changed: what a body altered in transit looks like.
            changed = serialization.parse_json(body)
            changed["connectionId"] = str(changed.get("connectionId", "")) + TAMPERED_SUFFIX
            body = serialization.serialize(changed)
        forged = sign in FORGERIES
        signed.append(
            dataclasses.replace(
                webhook,
                body=body,
                headers=headers,
                negative=forged,
                expect_rejection=forged,
            )
        )
    return signed
