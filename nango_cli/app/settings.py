"""Settings: their schema, and how an effective value is resolved.

Precedence, highest first: a command-line flag, an environment variable
`NANGO_HOOKS_<NAME>`, the environment's table in the file, the file's
`[defaults]` table, the built-in default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

from nango_cli.errors import ConfigError, UsageError
from nango_cli.support.timefmt import format_duration, parse_duration

if TYPE_CHECKING:
    from nango_cli.app.config_file import ConfigFile, SyncDef
from nango_cli.support import paths

DEFAULT_ENV = "dev"


ENV_VAR_PREFIX = "NANGO_HOOKS_"


ENV_SELECT_VAR = "NANGO_HOOKS_ENV"


RETRY_POLICIES = ("docs", "server", "none")


ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def validate_url(raw: object) -> str:
    from urllib.parse import urlsplit

    text = str(raw).strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("the URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if port == 0:
        raise ValueError("the URL's port must be between 1 and 65535")
    if any(ch.isspace() for ch in text):
        raise ValueError("the URL contains whitespace")
    return text


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false (also yes/no, on/off, 1/0)")


def _parse_int(raw: object, minimum: int, maximum: int) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    try:
        value = raw if isinstance(raw, int) else int(str(raw).strip(), 10)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if not minimum <= value <= maximum:
        raise ValueError(f"must be between {minimum} and {maximum}")
    return value


def _parse_text(raw: object) -> str:
    text = str(raw)
    if not text.strip():
        raise ValueError("must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("must not contain control characters")
    return text


def _parse_key(raw: object) -> str:
    text = str(raw).strip()
    if not text:
        raise ValueError("the key is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("a key must not contain whitespace or control characters")
    return text


def _parse_path(raw: object) -> str:
    text = _parse_text(raw)
    if not text.startswith("/"):
        raise ValueError("the path must start with /")
    return text


class Setting(NamedTuple):
    name: str
    kind: str  # shown in help: url, secret, text, int, bool, duration, choice, path
    default: Any
    help: str
    parser: Callable[[object], Any]
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_VAR_PREFIX + self.name.upper()

    def parse(self, raw: object) -> Any:
        return self.parser(raw)

    def to_toml(self, value: Any) -> Any:
        if self.kind == "duration":
            return format_duration(value)
        return value

    def display(self, value: Any, reveal: bool = False) -> str:
        if value is None:
            return ""
        if self.secret and not reveal:
            return mask_secret(str(value))
        if self.kind == "duration":
            return format_duration(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def mask_secret(value: str) -> str:
    """`…ab12`: enough to tell two keys apart, not enough to use one."""
    if len(value) < 12:
        return "…" + "*" * 4
    return "…" + value[-4:]


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = str(raw).strip().lower()
        if text not in options:
            raise ValueError("expected one of: " + ", ".join(options))
        return text

    return parse


def _int_range(minimum: int, maximum: int) -> Callable[[object], int]:
    return lambda raw: _parse_int(raw, minimum, maximum)


def _timeout(raw: object) -> float:
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("url", "url", None, "Primary webhook URL (Nango's 'Webhook URL').", validate_url),
        Setting(
            "secondary_url",
            "url",
            None,
            "Secondary webhook URL; each webhook goes to it after the primary.",
            validate_url,
        ),
        Setting(
            "signing_key",
            "secret",
            None,
            "Webhook signing key (Environment Settings > Webhooks in Nango).",
            _parse_key,
            secret=True,
        ),
        Setting(
            "previous_signing_key",
            "secret",
            None,
            "The signing key before a rotation; it still verifies (Nango signs with either "
            "for up to 5 minutes). `config set-key --rotate NEW` sets it.",
            _parse_key,
            secret=True,
        ),
        Setting(
            "secret_key",
            "secret",
            None,
            "Nango API secret key: the local API's bearer token, and how a signature made "
            "with it is recognised. Never stored in history.",
            _parse_key,
            secret=True,
        ),
        Setting("connection_id", "text", None, "Default connectionId.", _parse_text),
        Setting(
            "provider_config_key",
            "text",
            None,
            "Default integration (providerConfigKey).",
            _parse_text,
        ),
        Setting(
            "retry_policy",
            "choice",
            "docs",
            "docs: any non-2xx, 100 ms x2; server: 5xx/network only, 3 s x2; none.",
            _choice(RETRY_POLICIES),
        ),
        Setting(
            "retries",
            "int",
            None,
            "Retries after the first attempt (default: the policy's, 2).",
            _int_range(0, 20),
        ),
        Setting(
            "circuit_breaker",
            "bool",
            True,
            "Nango's per-URL circuit breaker, part of the server policy: too many failures "
            "in a window fail every delivery to that URL, unretried, for a cooldown.",
            _parse_bool,
        ),
        Setting(
            "circuit_breaker_failures",
            "int",
            5,
            "Failures within the window the breaker tolerates; one more opens it.",
            _int_range(1, 1000),
        ),
        Setting(
            "circuit_breaker_window",
            "duration",
            10.0,
            "The window failures are counted in, e.g. 10s.",
            _timeout,
        ),
        Setting(
            "circuit_breaker_cooldown",
            "duration",
            60.0,
            "How long an open breaker fails deliveries before one probe, e.g. 60s.",
            _timeout,
        ),
        Setting("timeout", "duration", 20.0, "Deadline for one attempt, e.g. 20s.", _timeout),
        Setting(
            "send_empty_syncs", "bool", True, "Send sync webhooks with no changes.", _parse_bool
        ),
        Setting("send_sync_errors", "bool", True, "Send sync error webhooks.", _parse_bool),
        Setting(
            "send_auth_creation",
            "bool",
            True,
            "Send auth webhooks for new connections.",
            _parse_bool,
        ),
        Setting(
            "send_refresh_errors",
            "bool",
            True,
            "Send auth webhooks for failed refreshes.",
            _parse_bool,
        ),
        Setting(
            "send_connection_deletions",
            "bool",
            True,
            "Send auth webhooks when a connection is deleted (Nango: on_connection_deletion).",
            _parse_bool,
        ),
        Setting(
            "send_async_actions",
            "bool",
            True,
            "Send async action completion webhooks.",
            _parse_bool,
        ),
        Setting("listen_host", "text", "127.0.0.1", "Host `listen` binds to.", _parse_text),
        Setting("listen_port", "int", 3456, "Port `listen` binds to.", _int_range(0, 65535)),
        Setting(
            "listen_path", "path", None, "Only path `listen` accepts (default: any).", _parse_path
        ),
        Setting("api_port", "int", 3003, "Port `api` (and `dev`) serves on.", _int_range(0, 65535)),
        Setting("ui_port", "int", 3458, "Port `ui` (and `dev`) serves on.", _int_range(0, 65535)),
        Setting(
            "state_hosts",
            "text",
            None,
            "Hosts besides this machine a scenario's or check's state URL may read "
            "(comma-separated).",
            _parse_text,
        ),
        Setting(
            "state_url",
            "text",
            None,
            "Where `check` reads the handler's copy of a model's records (a JSON array of "
            "ids): {connection}, {model}, {integration} filled in.",
            _parse_text,
        ),
        Setting(
            "project",
            "text",
            None,
            "The Nango project: a directory with .nango/ or nango.yaml, or one of those files "
            "(default: ./ or ./nango-integrations/).",
            _parse_text,
        ),
        Setting(
            "nango_host",
            "url",
            "https://api.nango.dev",
            "The Nango API `tunnel` changes a connection's webhook URL on (a self-hosted "
            "Nango's address, or a stand-in's).",
            validate_url,
        ),
    )
}


def get_setting(name: str) -> Setting:
    key = name.strip().lower().replace("-", "_")
    setting = SETTINGS.get(key)
    if setting is None:
        raise UsageError(
            f"unknown setting {name!r}",
            hint="valid settings: " + ", ".join(SETTINGS),
        )
    return setting


def validate_env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise UsageError(
            f"invalid environment name {name!r}",
            hint="use letters, digits, '-', '_' or '.', e.g. dev or prod",
        )
    return name


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
    config_path: str | os.PathLike[str] | None = None,
    env_flag: str | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    from nango_cli.app.config_file import ConfigFile

    return resolve(ConfigFile.load(paths.config_file(config_path)), env_flag, flags)
