"""Settings: their schema, and how an effective value is resolved.

Precedence, highest first: a command-line flag, an environment variable
`NANGO_HOOKS_<NAME>`, the environment's table in the file, the file's
`[defaults]` table, the built-in default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

from nango_cli.app.settings_table import (
    DEFAULT_ENV,
    ENV_SELECT_VAR,
    SETTINGS,
    validate_env_name,
)
from nango_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from nango_cli.app.config_file import ConfigFile, SyncDef


class Resolved(NamedTuple):
    name: str
    value: Any
    # "flag", "env var NANGO_HOOKS_X", "file [environments.dev]", "file [defaults]" or "default"
    source: str


T = TypeVar("T")


class _Typed(Generic[T]):
    """A setting read as a typed attribute (`settings.timeout` is a float): the code
    that uses settings is type-checked, where `settings["timeout"]` is Any."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Typed[T]: ...
    @overload
    def __get__(self, obj: Settings, owner: type) -> T: ...
    def __get__(self, obj: Settings | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.values[self.name].value


@dataclass
class Settings:
    """The effective settings of one environment: each setting a typed attribute
    (`settings.signing_key`); `settings[name]` for a name known only at run time."""

    env: str
    env_source: str
    file: ConfigFile
    values: dict[str, Resolved]

    url = _Typed[str | None]()
    secondary_url = _Typed[str | None]()
    signing_key = _Typed[str | None]()
    previous_signing_key = _Typed[str | None]()
    secret_key = _Typed[str | None]()
    connection_id = _Typed[str | None]()
    provider_config_key = _Typed[str | None]()
    retry_policy = _Typed[str]()
    retries = _Typed[int | None]()
    circuit_breaker = _Typed[bool]()
    circuit_breaker_failures = _Typed[int]()
    circuit_breaker_window = _Typed[float]()
    circuit_breaker_cooldown = _Typed[float]()
    timeout = _Typed[float]()
    send_empty_syncs = _Typed[bool]()
    send_sync_errors = _Typed[bool]()
    send_auth_creation = _Typed[bool]()
    send_refresh_errors = _Typed[bool]()
    send_connection_deletions = _Typed[bool]()
    send_async_actions = _Typed[bool]()
    listen_host = _Typed[str]()
    listen_port = _Typed[int]()
    listen_path = _Typed[str | None]()
    api_port = _Typed[int]()
    ui_port = _Typed[int]()
    state_url = _Typed[str | None]()
    state_hosts = _Typed[str | None]()
    project = _Typed[str | None]()
    nango_host = _Typed[str]()

    def allowed_state_hosts(self, flags: list[str] | None = None) -> frozenset[str]:
        """The hosts a state URL may name besides this machine: flags and the setting."""
        named = [*(flags or []), *(self.state_hosts or "").split(",")]
        return frozenset(h.strip().lower() for h in named if h.strip())

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def get(self, name: str) -> Any:
        return self.values[name].value

    def sync(self, name: str) -> SyncDef | None:
        return self.file.syncs().get(name)

    def targets_for(self, connection_id: str | None) -> list[str]:
        """Where a webhook for this connection goes: its per-connection URL alone (a
        connection's webhook_url_override replaces both environment URLs in Nango), else
        the environment's primary then secondary URL."""
        override = self.file.connection_url(connection_id) if connection_id else None
        if override:
            return [override]
        return [u for u in (self["url"], self["secondary_url"]) if u]


def resolve_env(flag: str | None, file: ConfigFile, environ: Mapping[str, str]) -> tuple[str, str]:
    if flag:
        return validate_env_name(flag), "flag"
    from_env = environ.get(ENV_SELECT_VAR)
    if from_env:
        try:
            return validate_env_name(from_env), f"env var {ENV_SELECT_VAR}"
        except UsageError as exc:
            raise ConfigError(f"{ENV_SELECT_VAR}: {exc.message}", hint=exc.hint) from None
    default_env = file.data.get("default_env")
    if default_env:
        return str(default_env), "file (default_env)"
    return DEFAULT_ENV, "default"


def resolve(
    file: ConfigFile,
    env_flag: str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    flags = flags or {}
    env, env_source = resolve_env(env_flag, file, environ)
    env_table = file.env_table(env)
    defaults = file.defaults_table()
    values: dict[str, Resolved] = {}
    for name, setting in SETTINGS.items():
        if flags.get(name) is not None:
            resolved = Resolved(name, flags[name], "flag")
        elif environ.get(setting.env_var):
            try:
                value = setting.parse(environ[setting.env_var])
            except ValueError as exc:
                raise ConfigError(
                    f"{setting.env_var}: {exc}",
                    hint=f"fix or unset the environment variable {setting.env_var}",
                ) from None
            resolved = Resolved(name, value, f"env var {setting.env_var}")
        elif name in env_table:
            resolved = Resolved(name, setting.parse(env_table[name]), f"file [environments.{env}]")
        elif name in defaults:
            resolved = Resolved(name, setting.parse(defaults[name]), "file [defaults]")
        else:
            resolved = Resolved(name, setting.default, "default")
        values[name] = resolved
    return Settings(env=env, env_source=env_source, file=file, values=values)


def load(
    config_path: Path,
    env_flag: str | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """The settings the config file at `config_path` gives (a missing file: defaults)."""
    from nango_cli.app.config_file import ConfigFile

    return resolve(ConfigFile.load(config_path), env_flag, flags)
