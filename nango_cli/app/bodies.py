"""Webhook bodies per kind, built from `fire`'s options and the settings.

Pure: options + settings -> the bodies Nango would send (plus the notes that
explain any guess), with no I/O beyond reading the project's files. `fire`,
`check`, the listener's external mode and `--dry-run` share it; signing and
delivery happen elsewhere (app/fire.py, delivery/outbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nango_cli.app.settings import Settings
from nango_cli.errors import ConfigError, NotFoundError, UsageError
from nango_cli.protocol import bodies, serialization, vocabulary
from nango_cli.support import timefmt

if TYPE_CHECKING:
    from nango_cli.app.project import SyncInfo

DEFAULT_CONNECTION_ID = "test-connection-id"
KINDS = ("sync", "auth", "forward", "async_action", "body")


@dataclass
class FireOptions:
    kind: str = "sync"
    sync_name: str | None = None
    connection_id: str | None = None
    integration: str | None = None
    models: list[str] = field(default_factory=list)
    # counts: key None applies to every model, a model name to that model only
    added: dict[str | None, int] = field(default_factory=dict)
    updated: dict[str | None, int] = field(default_factory=dict)
    deleted: dict[str | None, int] = field(default_factory=dict)
    sync_type: str | None = None
    variant: str | None = None
    modified_after: str | None = None
    # JSON text of checkpoints.from / .to, as typed; either given means "send checkpoints"
    checkpoint_from: str | None = None
    checkpoint_to: str | None = None
    failed: bool = False
    error_message: str | None = None
    auth_operation: str = "creation"
    auth_mode: str | None = None
    provider: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    end_user_id: str | None = None
    end_user_email: str | None = None
    organization_id: str | None = None
    forward_body: bytes | None = None
    forward_headers: list[tuple[str, str]] = field(default_factory=list)
    unmatched: bool = False
    action_id: str | None = None
    raw_body: bytes | None = None
    sets: list[str] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)  # --set-new
    # What `nango-hooks api` serves after this fire: --result (an async action's result),
    # --records (the exact records a sync adds or updates), --seed (generated values).
    result: Any = None
    supplied: list[dict[str, Any]] | None = None
    seed: int = 0
    force: bool = False
    circuit_breaker: bool = True
    sign_mode: str = "both"
    # With sign_mode bad or none: send a correctly signed copy first (the control).
    control: bool = True
    urls: list[str] = field(default_factory=list)
    dry_run: bool = False
    project: str | None = None


# ---------------------------------------------------------------- planning


def _count(counts: dict[str | None, int], model: str) -> int | None:
    """A model's count: its own (`--added Ticket=3`), else the one for every model
    (`--added 3`), else None (not given); once counts are given per model, a model left
    out is changed by none (`--added Contact=2` adds no Company)."""
    if model in counts:
        return counts[model]
    if None in counts:
        return counts[None]
    return 0 if counts else None


def _counts(opts: FireOptions, model: str) -> tuple[int, int, int]:
    """A model's added, updated and deleted, by the one rule (`default_counts`)."""
    return bodies.default_counts(
        _count(opts.added, model), _count(opts.updated, model), _count(opts.deleted, model)
    )


def _parse_json_option(name: str, text: str | bytes) -> Any:
    try:
        return serialization.parse_json(text)
    except ValueError as exc:
        raise UsageError(
            f"{name} is not valid JSON ({exc})", hint='e.g. {"cursor": "abc"}'
        ) from None


def resolve_sync(opts: FireOptions, settings: Settings, notes: list[str]) -> tuple[str, list[str]]:
    """A sync's integration and models: flags, then the config's [syncs] table, then
    the project's files, then the environment's default integration.

    A sync that neither the config nor the project knows is an error (with "did you
    mean"), unless the integration and the models are given: --model, or the models
    that per-model counts name (`--added Ticket=3`)."""
    if not opts.sync_name:
        raise UsageError(
            "fire needs a sync name", hint="e.g. nango-hooks fire --sync github-tickets"
        )
    sync = settings.sync(opts.sync_name)
    integration = opts.integration or (sync.integration if sync else None)
    models = list(opts.models) or (list(sync.models) if sync else [])
    if not integration or not models:
        found, known = _from_project(opts, settings, notes)
        counted = list(
            dict.fromkeys(
                m for c in (opts.added, opts.updated, opts.deleted) for m in c if m is not None
            )
        )
        if found:
            integration = integration or found.integration
            models = models or list(found.models)
        elif sync is None and integration and counted and not models:
            models = counted
        elif sync is None:
            _unknown_sync(opts.sync_name, [*settings.file.syncs(), *known])
    integration = integration or settings.provider_config_key
    if not integration:
        raise UsageError(
            f"sync {opts.sync_name!r} has no integration",
            hint=f"pass --integration, or set it under [syncs.{opts.sync_name}] in the config",
        )
    if not models:
        raise UsageError(
            f"sync {opts.sync_name!r} has no models",
            hint=f"pass --model, or set models under [syncs.{opts.sync_name}] in the config",
        )
    return str(integration), models


def _unknown_sync(name: str, known: list[str]) -> None:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    hint += "`nango-hooks syncs` lists them; to fire it anyway, pass --integration and --model"
    raise NotFoundError(
        f"unknown sync {name!r}: not in the config's [syncs] nor in the project", hint=hint
    )


def _checkpoint(option: str, text: str | None) -> Any:
    """A checkpoint as Nango has it: null, or a flat object of strings, numbers, booleans."""
    value = _parse_json_option(option, text or "null")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UsageError(
            f"{option} must be a JSON object (or null)", hint='e.g. {"cursor": "abc", "page": 2}'
        )
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            kind = "null" if item is None else "an array" if isinstance(item, list) else "an object"
            raise UsageError(
                f"{option}: {key!r} is {kind}; checkpoint values are strings, numbers or booleans",
                hint="Nango keeps checkpoints flat: one key per value",
            )
    return value


# Which options apply to which webhook kind; one given for another kind is a usage
# error rather than silently ignored (`--tag` on a sync).
_OPTION_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "models": ("--model", frozenset({"sync"})),
    "added": ("--added", frozenset({"sync"})),
    "updated": ("--updated", frozenset({"sync"})),
    "deleted": ("--deleted", frozenset({"sync"})),
    "sync_type": ("--initial/--incremental/--webhook", frozenset({"sync"})),
    "variant": ("--variant", frozenset({"sync"})),
    "modified_after": ("--modified-after", frozenset({"sync"})),
    "checkpoint_from": ("--checkpoint-from", frozenset({"sync"})),
    "checkpoint_to": ("--checkpoint-to", frozenset({"sync"})),
    "failed": ("--failed", frozenset({"sync", "auth"})),
    "error_message": ("--error-message", frozenset({"sync", "auth"})),
    "auth_mode": ("--auth-mode", frozenset({"auth"})),
    "tags": ("--tag", frozenset({"auth"})),
    "end_user_id": ("--end-user-id", frozenset({"auth"})),
    "end_user_email": ("--end-user-email", frozenset({"auth"})),
    "organization_id": ("--organization-id", frozenset({"auth"})),
    "provider": ("--provider", frozenset({"auth", "forward"})),
    "forward_headers": ("--header", frozenset({"forward"})),
    "unmatched": ("--unmatched", frozenset({"forward"})),
    "action_id": ("--action-id", frozenset({"async_action"})),
    "result": ("--result", frozenset({"async_action"})),
    "supplied": ("--records", frozenset({"sync"})),
    "seed": ("--seed", frozenset({"sync"})),
    "integration": ("--integration", frozenset({"sync", "auth", "forward", "async_action"})),
    "connection_id": ("--connection", frozenset({"sync", "auth", "forward", "async_action"})),
}


def check_applicable(opts: FireOptions) -> None:
    """Refuse options that do not apply to the chosen kind of webhook."""
    defaults = FireOptions()
    for name, (flag, kinds) in _OPTION_KINDS.items():
        if opts.kind in kinds or not hasattr(opts, name):
            continue
        if getattr(opts, name) != getattr(defaults, name):
            what = _KIND_NAMES[opts.kind]
            raise UsageError(
                f"{flag} does not apply to {what}",
                hint=f"{flag} is for " + ", ".join(_KIND_NAMES[k] for k in sorted(kinds)),
            )
    if opts.kind == "auth" and opts.end_user_id is None:
        for flag, value in (
            ("--end-user-email", opts.end_user_email),
            ("--organization-id", opts.organization_id),
        ):
            if value is not None:
                raise UsageError(
                    f"{flag} needs --end-user-id", hint="endUser.endUserId is required"
                )


_KIND_NAMES = {
    "sync": "sync webhooks (--sync)",
    "auth": "auth webhooks (--auth)",
    "forward": "forward webhooks (--forward)",
    "async_action": "async action webhooks (--async-action)",
    "body": "raw bodies (--body)",
}


def _sync_bodies(opts: FireOptions, settings: Settings, notes: list[str]) -> list[dict[str, Any]]:
    integration, models = resolve_sync(opts, settings, notes)
    assert opts.sync_name is not None
    sync = settings.sync(opts.sync_name)
    for counts in (opts.added, opts.updated, opts.deleted):
        unknown = [m for m in counts if m is not None and m not in models]
        if unknown:
            raise UsageError(
                f"count given for model {unknown[0]!r}, which this sync does not send",
                hint="models: " + ", ".join(models),
            )
    sync_type = (opts.sync_type or (sync.sync_type if sync else None) or "INCREMENTAL").upper()
    if sync_type not in vocabulary.SYNC_TYPES:
        raise ConfigError(
            f"invalid sync type {sync_type!r} for sync {opts.sync_name!r}",
            hint="use one of: " + ", ".join(vocabulary.SYNC_TYPES),
        )
    variant = opts.variant or (sync.variant if sync else None) or "base"
    connection_id = connection_for(opts, settings, notes)
    modified_after = (
        timefmt.parse_timestamp(opts.modified_after)
        if opts.modified_after
        else timefmt.now_timestamp()
    )
    checkpoints = None
    if opts.checkpoint_from is not None or opts.checkpoint_to is not None:
        checkpoints = {
            "from": _checkpoint("--checkpoint-from", opts.checkpoint_from),
            "to": _checkpoint("--checkpoint-to", opts.checkpoint_to),
        }
    if opts.failed:
        return [
            bodies.sync_error(
                connection_id=connection_id,
                provider_config_key=integration,
                sync_name=opts.sync_name,
                models=models,
                sync_type=sync_type,
                variant=variant,
                description=opts.error_message or "The sync script failed",
                started_at=modified_after,
                failed_at=timefmt.now_timestamp(),
                checkpoints=checkpoints,
            )
        ]
    return [
        bodies.sync_success(
            connection_id=connection_id,
            provider_config_key=integration,
            sync_name=opts.sync_name,
            model=model,
            sync_type=sync_type,
            variant=variant,
            modified_after=modified_after,
            added=added,
            updated=updated,
            deleted=deleted,
            checkpoints=checkpoints,
        )
        for model in models
        for added, updated, deleted in [_counts(opts, model)]
    ]


def _from_project(
    opts: FireOptions, settings: Settings, notes: list[str]
) -> tuple[SyncInfo | None, list[str]]:
    """The sync as the project declares it (when it does), and every sync it declares."""
    from nango_cli.app import project

    found_project = project.discover(opts.project or settings.project)
    found = found_project.syncs.get(opts.sync_name or "")
    if found_project.source and found:
        notes.append(
            f"sync {found.name!r} from {found_project.source}: integration "
            f"{found.integration!r}, models {', '.join(found.models) or '-'}"
        )
    return found, list(found_project.syncs)


def connection_for(opts: FireOptions, settings: Settings, notes: list[str]) -> str:
    # Unset, the documented default (README); each sent webhook's line names it.
    return str(opts.connection_id or settings.connection_id or DEFAULT_CONNECTION_ID)


def _integration(opts: FireOptions, settings: Settings, what: str) -> str:
    integration = opts.integration or settings.provider_config_key
    if not integration:
        raise UsageError(
            f"{what} needs an integration (providerConfigKey)",
            hint="pass --integration github, or `nango-hooks config set provider_config_key KEY`",
        )
    return str(integration)


def _auth_body(opts: FireOptions, settings: Settings, notes: list[str]) -> dict[str, Any]:
    if opts.auth_operation not in vocabulary.FIREABLE_AUTH_OPERATIONS:
        raise UsageError(
            f"invalid auth operation {opts.auth_operation!r}",
            hint="use one of: " + ", ".join(vocabulary.FIREABLE_AUTH_OPERATIONS),
        )
    mode = opts.auth_mode or "OAUTH2"
    # Nango's modes are upper case, except "unknown" (an integration since deleted).
    mode = "unknown" if mode.lower() == "unknown" else mode.upper()
    if mode not in vocabulary.AUTH_MODES:
        raise UsageError(
            f"invalid auth mode {opts.auth_mode!r}",
            hint="use one of: " + ", ".join(vocabulary.AUTH_MODES),
        )
    integration = _integration(opts, settings, "an auth webhook")
    end_user = None
    if opts.end_user_id:
        end_user = {"endUserId": opts.end_user_id, "tags": dict(opts.tags)}
        if opts.end_user_email:
            end_user["endUserEmail"] = opts.end_user_email
        if opts.organization_id:
            end_user["organizationId"] = opts.organization_id
    return bodies.auth(
        connection_id=connection_for(opts, settings, notes),
        provider_config_key=integration,
        provider=opts.provider or integration,
        environment=settings.env,
        operation=opts.auth_operation,
        auth_mode=mode,
        success=not opts.failed,
        error_description=opts.error_message,
        tags=opts.tags or None,
        end_user=end_user,
    )


@dataclass
class Built:
    """The bodies of one `fire`: parsed values (for the history's fields), and `raw`
    bytes when a raw --body is sent byte-exactly instead of serialized."""

    bodies: list[Any]
    raw: bytes | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def build(opts: FireOptions, settings: Settings, notes: list[str]) -> Built:
    """The bodies Nango would send for these options, `--set` edits applied."""
    if opts.kind not in KINDS:
        raise UsageError(f"unknown webhook kind {opts.kind!r}")
    check_applicable(opts)
    built: Built
    if opts.kind == "sync":
        built = Built(_sync_bodies(opts, settings, notes))
    elif opts.kind == "auth":
        built = Built([_auth_body(opts, settings, notes)])
    elif opts.kind == "async_action":
        built = Built(
            [
                bodies.async_action(
                    connection_id=connection_for(opts, settings, notes),
                    provider_config_key=_integration(opts, settings, "an async action webhook"),
                    action_id=opts.action_id,
                )
            ]
        )
    elif opts.kind == "forward":
        external = _parse_json_option("the forwarded body", opts.forward_body or b"")
        integration = _integration(opts, settings, "a forward webhook")
        connection = None if opts.unmatched else connection_for(opts, settings, notes)
        built = Built(
            [
                bodies.forward(
                    provider=opts.provider or integration,
                    provider_config_key=integration,
                    connection_id=connection,
                    payload=external,
                )
            ],
            extra_headers=bodies.forwardable_headers(opts.forward_headers),
        )
    else:
        raw = opts.raw_body if opts.raw_body is not None else b""
        if opts.sets or opts.new_fields:
            notes.append("--set edits the body, so it is re-serialized as Nango would")
            built = Built([_parse_json_option("the body", raw)])
        else:
            try:
                built = Built([serialization.parse_json(raw)], raw=raw)
            except ValueError:
                built = Built([None], raw=raw)
    if not (opts.sets or opts.new_fields):
        return built
    from nango_cli.protocol import edits  # only for --set: its parser is not free

    changes = edits.parse_edits(opts.sets, opts.new_fields)
    if changes:
        built.bodies = [edits.apply_edits(b, changes) for b in built.bodies]
    return built
