"""What a backend's calls to the API stand-in cause beyond its store: the webhooks
Nango would send, as `fire` options (sent by whoever serves the API: `api --webhooks`
and `dev` fire them, `scenario run` sends them as the `call` step's webhooks).

- `/sync/trigger`: each sync's completion webhook per connection; with
  `opts.emptyCache` the records are emptied first and the run finds every live
  record again, so the webhook announces them all as added.
- `DELETE /connections/{id}`: the `auth` webhook with `operation: "deletion"` (sent
  when the environment's send_connection_deletions is on, as `fire` decides).
- `POST /action/trigger` with `X-Async: true`: the `async_action` webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nango_cli.app.bodies import FireOptions, resolve_sync
from nango_cli.app.settings import Settings
from nango_cli.errors import NangoHooksError
from nango_cli.storage import records, syncs
from nango_cli.storage.connections import Connection
from nango_cli.storage.database import Database

# Where a served API hands the webhooks a call causes (None: webhooks are off).
OnCaused = Callable[[list[FireOptions]], None]


def declared_syncs(settings: Callable[[], Settings]) -> Callable[[str], set[str]]:
    """The syncs the config's [syncs] and the project declare for an integration."""

    def declared(provider_config_key: str) -> set[str]:
        from nango_cli.app import project

        current = settings()
        names = {n for n, s in current.file.syncs().items() if s.integration == provider_config_key}
        try:
            found = project.discover(current.project)
        except NangoHooksError:
            return names
        return names | {n for n, s in found.syncs.items() if s.integration == provider_config_key}

    return declared


def sync_models(store: Database, settings: Settings, key: str, name: str) -> list[str]:
    """A sync's models: as the config or the project declares them, else as its
    webhooks named them."""
    try:
        integration, models = resolve_sync(
            FireOptions(sync_name=name, integration=key), settings, []
        )
    except NangoHooksError:
        return syncs.seen_models(store, key, name)
    return models if integration == key else syncs.seen_models(store, key, name)


def trigger_webhooks(
    store: Database,
    settings: Settings,
    connection_ids: list[str],
    key: str,
    names: list[str],
    empty_cache: bool,
) -> list[FireOptions]:
    caused = []
    for connection_id in connection_ids:
        for name in names:
            models = sync_models(store, settings, key, name)
            if not empty_cache:
                caused.append(FireOptions("sync", name, connection_id, key, models))
                continue
            for model in models:
                found = records.empty_cache(store, connection_id, key, model)
                caused.append(
                    FireOptions("sync", name, connection_id, key, [model], supplied=found)
                )
    return caused


def deletion_webhook(connection: Connection) -> FireOptions:
    return FireOptions(
        kind="auth",
        auth_operation="deletion",
        connection_id=connection.connection_id,
        integration=connection.provider_config_key,
        provider=connection.provider,
        auth_mode=connection.auth_mode,
        # Sent for the connection as it was: to its override, if it had one.
        urls=[connection.webhook_url_override] if connection.webhook_url_override else [],
    )


def async_action_webhook(
    connection_id: str, provider_config_key: str, action_id: str, result: Any
) -> FireOptions:
    return FireOptions(
        kind="async_action",
        connection_id=connection_id,
        integration=provider_config_key,
        action_id=action_id,
        result=result,
    )


def firing(
    settings: Callable[[], Settings],
    store_path: Any,
    report: Callable[[FireOptions, Any], None],
) -> OnCaused:
    """Fire what a call causes as `fire` would (its own store connection: it runs in a
    worker thread); `report` gets each option with its Fired, or the error that
    stopped it."""

    def fire_all(caused: list[FireOptions]) -> None:
        from nango_cli.app import fire
        from nango_cli.storage.webhooks import Store

        with Store(store_path) as store:
            for opts in caused:
                try:
                    fired: Any = fire.fire(opts, settings(), store)
                except NangoHooksError as exc:
                    fired = exc
                report(opts, fired)

    return fire_all


def config_rotation(config_path: Any, env: str) -> Callable[[], str | None]:
    """POST /environment/webhook-signing-key/rotate under `api` and `dev`: a new key
    becomes the environment's signing_key and the old one its previous_signing_key
    (both verify meanwhile, as in Nango's rotation window), written to the config file
    under its lock; None when the environment has no key to rotate."""

    def rotate() -> str | None:
        import uuid

        from nango_cli.app.config_file import ConfigFile
        from nango_cli.app.settings import resolve

        with ConfigFile.editing(config_path) as file:
            current = resolve(file, env).signing_key
            if not current:
                return None
            table = file.table_for_write(env)
            table["previous_signing_key"] = current
            table["signing_key"] = new = str(uuid.uuid4())
            file.save()
        return new

    return rotate
