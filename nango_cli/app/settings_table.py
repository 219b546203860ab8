"""The settings table: every setting's name, kind, built-in default, help and parser,
and the value helpers they share (URLs, environment names, masked secrets). Pure: no
files read here; app/settings.py resolves effective values, app/config_file.py reads
and writes the file, both from this table."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from nango_cli.errors import UsageError
from nango_cli.protocol import vocabulary
from nango_cli.support.timefmt import format_duration, parse_duration

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
            vocabulary.BREAKER_FAILURE_THRESHOLD,
            "Failures within the window the breaker tolerates; one more opens it.",
            _int_range(1, 1000),
        ),
        Setting(
            "circuit_breaker_window",
            "duration",
            vocabulary.BREAKER_WINDOW_S,
            "The window failures are counted in, e.g. 10s.",
            _timeout,
        ),
        Setting(
            "circuit_breaker_cooldown",
            "duration",
            vocabulary.BREAKER_COOLDOWN_S,
            "How long an open breaker fails deliveries before one probe, e.g. 60s.",
            _timeout,
        ),
        Setting(
            "timeout",
            "duration",
            vocabulary.TIMEOUT_S,
            "Deadline for one attempt, e.g. 20s.",
            _timeout,
        ),
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
