"""The fire service: options + settings -> signed webhooks -> the API's state -> sent.

Every caller that fires (the `fire` command, the API's caused webhooks, the
inspector's form, `listen --external`, the demo, the pytest plugin) goes through
`fire` (or `prepare` then `deliver`, when it shows the plan first), so a webhook is
never sent without the records, connection or result it announces.

Planning is pure (bodies from app/bodies.py, signatures, targets, the environment's
toggles), so `--dry-run` and tests share it with real sends; delivery/outbox.py
records and delivers the plan.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from nango_cli.app import bodies
from nango_cli.app.bodies import FireOptions
from nango_cli.app.plans import delivery_plan
from nango_cli.app.settings import Settings
from nango_cli.delivery.outbox import AttemptEvent, DeliveryPlan, PlannedWebhook, SentWebhook
from nango_cli.delivery.transport import Sender, TLSOptions
from nango_cli.errors import ConfigError, UsageError
from nango_cli.protocol import serialization, signatures
from nango_cli.protocol.headers import signed_headers
from nango_cli.support.timefmt import normalized, now_timestamp

if TYPE_CHECKING:
    from nango_cli.storage.records import Applied
    from nango_cli.storage.webhooks import Store

__all__ = [
    "FireOptions",
    "Fired",
    "deliver",
    "fire",
    "plan",
    "plan_with_supplied",
    "prepare",
    "targets_for",
    "write_api_state",
]


class Fired(NamedTuple):
    """What one fire did: its plan, the webhooks sent (none when it was skipped), and the
    record changes its sync webhooks announced, as written for the API."""

    plan: DeliveryPlan
    sent: list[SentWebhook]
    applied: tuple[Applied, ...] = ()

    @property
    def skipped(self) -> str | None:
        return self.plan.skipped


def fire(
    opts: FireOptions,
    settings: Settings,
    store: Store,
    on_event: Callable[[AttemptEvent], None] = lambda event: None,
    sender: Sender | None = None,
    tls: TLSOptions | None = None,
) -> Fired:
    """Fire as the `fire` command does: plan, make true what the webhooks announce,
    then record and deliver them."""
    return deliver(prepare(opts, settings, store, tls), opts, settings, store, on_event, sender)


def prepare(
    opts: FireOptions, settings: Settings, store: Store | None = None, tls: TLSOptions | None = None
) -> DeliveryPlan:
    """The plan of a fire (with --records, the store says which ids are new)."""
    if opts.supplied is not None:
        if store is None:
            raise ValueError("--records needs the store to plan")
        return plan_with_supplied(opts, settings, store, tls)
    return plan(opts, settings, tls, store)


def deliver(
    fire_plan: DeliveryPlan,
    opts: FireOptions,
    settings: Settings,
    store: Store,
    on_event: Callable[[AttemptEvent], None] = lambda event: None,
    sender: Sender | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> Fired:
    """Send a prepared plan: nothing when the environment would not send it (skipped);
    otherwise the API's state first (records, connection, action result), then the
    outbox and the retry loop."""
    from nango_cli.delivery.outbox import execute

    if fire_plan.skipped:
        return Fired(fire_plan, [])
    applied = write_api_state(fire_plan, opts, settings, store)
    return Fired(fire_plan, execute(fire_plan, store, on_event, sender, sleep), tuple(applied))


def targets_for(
    opts: FireOptions, settings: Settings, connection_id: str | None, store: Store | None = None
) -> list[str]:
    """Where a webhook goes: --url flags, else the connection's webhook_url_override set
    through the API (PATCH /connections/{id}; Nango sends there alone), else its URL in
    the config, else the environment's primary then secondary URL."""
    if opts.urls:
        return list(opts.urls)
    override = _override(store, connection_id)
    return [override] if override else settings.targets_for(connection_id)


def _override(store: Store | None, connection_id: str | None) -> str | None:
    if store is None or not connection_id:
        return None
    from nango_cli.storage.connections import webhook_url_override

    return webhook_url_override(store, connection_id)


def apply_overrides(fire_plan: DeliveryPlan, store: Store) -> None:
    """A scenario's steps follow Nango's routing over the run's handler URL: each
    webhook of a connection with a webhook_url_override goes there."""
    for webhook in fire_plan.webhooks:
        override = _override(store, webhook.connection_id)
        if override:
            webhook.targets = [override]


def _skip_reason(opts: FireOptions, settings: Settings, built_bodies: list[Any]) -> str | None:
    """Why Nango would not send this webhook in this environment, or None."""
    if opts.kind == "sync" and not opts.failed:
        empty = all(
            isinstance(b, dict) and all(v == 0 for v in b.get("responseResults", {}).values())
            for b in built_bodies
        )
        if empty and not settings.send_empty_syncs:
            return "empty sync webhooks are off in this environment (send_empty_syncs)"
    if opts.kind == "sync" and opts.failed and not settings.send_sync_errors:
        return "sync error webhooks are off in this environment (send_sync_errors)"
    if opts.kind == "auth":
        if opts.auth_operation == "creation" and not settings.send_auth_creation:
            return "auth creation webhooks are off in this environment (send_auth_creation)"
        if opts.auth_operation == "deletion" and not settings.send_connection_deletions:
            return (
                "connection deletion webhooks are off in this environment "
                "(send_connection_deletions)"
            )
        # A successful refresh is sent only as a recovery, after a failed one (Nango
        # #7202, 2026), under the same setting as the failures.
        if opts.auth_operation == "refresh" and not settings.send_refresh_errors:
            return "refresh webhooks are off in this environment (send_refresh_errors)"
    if opts.kind == "async_action" and not settings.send_async_actions:
        return "async action webhooks are off in this environment (send_async_actions)"
    return None


def plan(
    opts: FireOptions,
    settings: Settings,
    tls: TLSOptions | None = None,
    store: Store | None = None,
) -> DeliveryPlan:
    """The signed webhooks of a fire and where they go (with `store`, a connection's
    webhook_url_override counts)."""
    if opts.sign_mode not in signatures.SIGN_MODES:
        raise UsageError(
            f"invalid --sign {opts.sign_mode!r}",
            hint="use one of: " + ", ".join(signatures.SIGN_MODES),
        )
    notes: list[str] = []
    built = bodies.build(opts, settings, notes)
    key = settings.signing_key
    webhooks = []
    for body in built.bodies:
        data = built.raw if built.raw is not None else serialization.serialize(body, notes)
        webhook = PlannedWebhook.for_body(body, data, {})
        webhook.targets = targets_for(opts, settings, webhook.connection_id, store)
        if not webhook.targets and not opts.dry_run:
            raise ConfigError(
                f"no webhook URL for environment {settings.env!r}",
                hint="set one with `nango-hooks config set-url URL`, or pass --url URL",
            )
        webhooks.append(webhook)
    if not key and opts.sign_mode != "none":
        raise ConfigError(
            f"no signing key for environment {settings.env!r}",
            hint="set it with `nango-hooks config set-key` (Nango: Environment Settings > "
            "Webhooks), or fire with --sign none",
        )
    for webhook in webhooks:
        webhook.headers = signed_headers(webhook.body, key, opts.sign_mode, built.extra_headers)
        # Anything but both signatures is a deliberate negative test; a bad or missing
        # signature must be refused by a handler that verifies.
        webhook.negative = opts.sign_mode != "both"
        webhook.expect_rejection = opts.sign_mode in ("bad", "none")
    if webhooks and webhooks[0].expect_rejection and opts.control and key:
        # The control: the same webhook correctly signed, sent first. A rejection of the
        # forgeries means something only if the handler took this one.
        first = webhooks[0]
        control = dataclasses.replace(
            first,
            headers=signed_headers(first.body, key, "both", built.extra_headers),
            negative=False,
            expect_rejection=False,
            control=True,
        )
        webhooks.insert(0, control)
    skipped = None if opts.force else _skip_reason(opts, settings, built.bodies)
    return delivery_plan(settings, webhooks, notes, opts.circuit_breaker, tls, skipped)


class FireOutcome(NamedTuple):
    """What a fire's deliveries say, as `fire` reports it (`kind` decides the exit)."""

    kind: Literal[
        "delivered",
        "rejected-as-expected",
        "refused-badly",
        "not-judged",
        "accepted-forgery",
        "failed",
    ]
    message: str
    hint: str | None = None


def judge(sent: list[SentWebhook], store: Store | None = None) -> FireOutcome:
    """The fire's verdict. Each forgery (a bad or missing signature) is judged by
    app/forgeries.py against the control sent with it, its verdict kept in history."""
    negatives = [s for s in sent if s.expects_rejection]
    genuine = [s for s in sent if not s.expects_rejection]
    failed = [s for s in genuine if not s.delivered]
    if not negatives:  # nothing to judge: the judge's modules stay unloaded
        return _delivery_verdict(sent, failed)

    from nango_cli.app import forgeries

    control = forgeries.Control(any(s.delivered for s in genuine), "no accepted control")
    if store is not None:
        _settle_api_log()
    verdicts = [
        forgeries.judge(s, forgeries.calls_under(store, s) if store else [], control)
        for s in negatives
    ]
    if store is not None:
        forgeries.record(store, list(zip(negatives, verdicts, strict=True)))
    acted = [v for v in verdicts if v.kind == "acted-on"]
    if acted:
        return FireOutcome(
            "accepted-forgery",
            f"the handler acted on {len(acted)} webhook(s) with a bad or missing signature: "
            + acted[0].happened,
            forgeries.VERIFY_FIX,
        )
    if not control.accepted:
        return _not_judged(genuine)
    if failed:
        return _delivery_verdict(sent, failed)
    badly = [v for v in verdicts if v.kind == "refused-badly"]
    if badly:
        return FireOutcome("refused-badly", badly[0].happened, badly[0].fix)
    return FireOutcome(
        "rejected-as-expected",
        "rejected as expected: the handler took the correctly signed webhook and refused "
        "the forgeries",
    )


def _delivery_verdict(sent: list[SentWebhook], failed: list[SentWebhook]) -> FireOutcome:
    if failed:
        return FireOutcome(
            "failed",
            f"{len(failed)} of {len(sent)} webhook(s) not delivered",
            "`nango-hooks history show ID` has every attempt; resend with `nango-hooks replay ID`",
        )
    return FireOutcome("delivered", f"{len(sent)} webhook(s) delivered")


def _not_judged(genuine: list[SentWebhook]) -> FireOutcome:
    if not genuine:
        return FireOutcome(
            "not-judged",
            "not judged: no correctly signed webhook was sent to compare with",
            "set the environment's signing key (a control is then sent first), or drop "
            "--no-control",
        )
    control = genuine[0]
    last = control.attempts[-1] if control.attempts else None
    if last is None or last.status_code is None:
        return FireOutcome(
            "not-judged",
            "not judged: the handler did not answer the valid webhook (the control, "
            f"{control.record.id}): {last.error if last and last.error else 'not sent'}",
            "is it running at that URL? `nango-hooks history show ID` has every attempt",
        )
    return FireOutcome(
        "not-judged",
        "not judged: the handler also refused a valid webhook (the control, "
        f"{control.record.id}, answered {last.status_code})",
        "it refuses everything, so refusing forgeries proves nothing: is it using this "
        "environment's signing key? `nango-hooks history show ID` has its answer",
    )


def _settle_api_log() -> None:
    """An API writes its request log in batches: wait one batch out for the calls a
    handler made while it held a forgery (the API may be `api`, `dev`, or one a test
    runs in its own process: no way to ask each to write now)."""
    from nango_cli.app import api_calls

    time.sleep(api_calls.LOG_SETTLE_S)


# ---------------------------------------------------------------- what the API serves


def parse_supplied(text: bytes) -> list[dict[str, Any]]:
    """`--records FILE`: one JSON object with an `id` per line."""
    found = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = serialization.parse_json(line)
        except (ValueError, UnicodeDecodeError):
            raise UsageError(
                f"--records line {number} is not JSON", hint="one JSON object per line"
            ) from None
        record_id = value.get("id") if isinstance(value, dict) else None
        if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
            raise UsageError(
                f"--records line {number} has no id",
                hint='each record needs an "id" (a string or a number), as in Nango',
            )
        shown = str(record_id)
        if len(shown) > 1024 or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in shown):
            raise UsageError(
                f"--records line {number}: the id is not usable as a record id",
                hint="ids are text of at most 1,024 characters, without control characters "
                "or lone surrogates",
            )
        if shown in seen:
            raise UsageError(
                f"--records line {number} repeats the id {shown!r} of line {seen[shown]}",
                hint="each record appears once; Nango keeps one record per id",
            )
        seen[shown] = number
        found.append(value)
    if not found:
        raise UsageError("--records has no records", hint="one JSON object per line")
    return found


def plan_with_supplied(
    opts: FireOptions, settings: Settings, store: Store, tls: TLSOptions | None = None
) -> DeliveryPlan:
    """With --records the webhook's counts are the file's: new ids added, known ones
    updated (planned once to learn the connection and model, then with the counts)."""
    from nango_cli.storage import records

    assert opts.supplied is not None
    first = plan(opts, settings, tls, store)
    if len(first.webhooks) != 1:
        raise UsageError(
            "--records needs a sync with one model",
            hint="pick the model the records belong to with --model",
        )
    if opts.added or opts.updated or opts.failed:
        raise UsageError("--records sets the counts: drop --added, --updated and --failed")
    change = sync_change(serialization.parse_json(first.webhooks[0].body))
    assert change is not None
    known = records.known_ids(store, change, [str(r["id"]) for r in opts.supplied])
    new = sum(1 for r in opts.supplied if str(r["id"]) not in known)
    opts.added, opts.updated = {None: new}, {None: len(opts.supplied) - new}
    return plan(opts, settings, tls, store)


def write_api_state(
    fire_plan: DeliveryPlan, opts: FireOptions, settings: Settings, store: Store
) -> list[Applied]:
    """Before the webhooks go out, make true what they announce (see `apply_announced`);
    the record changes written, as the builder knows them."""
    return apply_announced(
        store,
        fire_plan.webhooks,
        lambda models: _generators(opts, settings, models),
        opts.seed,
        opts.supplied,
        opts.result,
    )


def apply_announced(
    store: Store,
    webhooks: list[PlannedWebhook],
    generators: Callable[[set[str]], dict[str, Any]] = lambda models: {},
    seed: int = 0,
    supplied: list[dict[str, Any]] | None = None,
    result: Any = None,
) -> list[Applied]:
    """Make true what webhooks announce, for the API a handler calls back: a sync's
    records changed, a connection created or deleted, an async action's result ready.
    A deliberate negative (a bad signature) changes nothing: Nango never sends one.
    Returns the record changes written (what each sync webhook announced)."""
    from nango_cli.storage import actions, connections, records

    changes = []
    for webhook in webhooks:
        if webhook.negative:
            continue
        try:
            body = serialization.parse_json(webhook.body)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(body, dict):
            continue
        kind = body.get("type")
        if kind == "auth":
            connections.apply_auth(store, body)
        elif kind == "async_action":
            actions.store_action_result(store, body, result)
        elif kind == "sync" and body.get("success") is True:
            change = sync_change(body)
            if change is not None:
                changes.append(change)
    if not changes:
        return []
    made = generators({c.model for c in changes})
    return records.apply_changes(store, changes, made, seed, supplied)


def sync_change(body: dict[str, Any]) -> Any:
    """The record changes a sync success webhook announces."""
    from nango_cli.storage import records

    results = body.get("responseResults")
    if not isinstance(results, dict):
        return None
    counts = [results.get(k) for k in ("added", "updated", "deleted")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        return None
    added, updated, deleted = (int(c) for c in counts)  # type: ignore[arg-type]
    checkpoints = body.get("checkpoints")
    resync = isinstance(checkpoints, dict) and checkpoints.get("from", "") is None
    return records.Change(
        connection_id=str(body.get("connectionId")),
        provider_config_key=str(body.get("providerConfigKey")),
        model=str(body.get("model")),
        variant=str(body.get("syncVariant") or "base"),
        added=added,
        updated=updated,
        deleted=deleted,
        # As Nango's API compares them: a time without milliseconds (`--set
        # modifiedAfter=2026-01-01T00:00:00Z`) is the same moment in its form.
        modified_after=normalized(str(body.get("modifiedAfter") or "")) or now_timestamp(),
        initial=body.get("syncType") == "INITIAL" or resync,
    )


def _generators(opts: FireOptions, settings: Settings, models: set[str]) -> dict[str, Any]:
    """A record generator for each of `models` the project describes."""
    from nango_cli.app import project

    try:
        found = project.discover(opts.project or settings.project)
    except (ConfigError, UsageError):
        return {}
    return project_generators(found, models)


def project_generators(found: Any, models: set[str]) -> dict[str, Any]:
    """Record generators for the `models` a discovered project describes."""
    from nango_cli.protocol.fakedata import Generator, SchemaTooLarge

    made = {}
    for name in sorted(models & set(found.models)):
        try:
            made[name] = Generator(name, found.models[name], found.models)
        except SchemaTooLarge as exc:
            raise ConfigError(
                f"{found.schema_source or found.source}: {exc}",
                hint="give the model's recursive fields a shallower shape, or pass the exact "
                "records with --records FILE.jsonl",
            ) from None
    return made
