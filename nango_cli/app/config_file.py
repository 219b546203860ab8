"""The TOML config file: reading, validating and writing it.

File layout::

    default_env = "dev"

    [defaults]                 # shared by every environment
    retry_policy = "docs"

    [environments.dev]
    url = "http://127.0.0.1:3000/webhooks/nango"
    signing_key = "…"

    [syncs."github-tickets"]
    integration = "github"
    models = ["Ticket"]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nango_cli.app.settings_table import ENV_NAME, SETTINGS, validate_url
from nango_cli.errors import ConfigError
from nango_cli.protocol.vocabulary import SYNC_TYPES
from nango_cli.support import files

_TOP_LEVEL_KEYS = {"default_env", "defaults", "environments", "syncs", "connections"}


_CONNECTION_KEYS = {"url"}


_SYNC_KEYS = {"integration", "models", "sync_type", "variant"}


class SyncDef(NamedTuple):
    name: str
    integration: str | None = None
    models: tuple[str, ...] = ()
    sync_type: str | None = None
    variant: str | None = None


_SECRET_NAMES = ("signing_key", "previous_signing_key", "secret_key")


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass
class ConfigFile:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
    text: str = ""
    # Risks the CLI shows once: an unsafe directory, a readable file holding a key.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        import tomllib

        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path, warnings=files.directory_warnings(path.parent))
        except IsADirectoryError:
            raise ConfigError(
                f"{path} is a directory, not a config file",
                hint="point --config / NANGO_HOOKS_CONFIG at a file",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read {path}: {exc.strerror}", hint="check the file's permissions"
            ) from None
        try:
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError(
                f"{path} is not UTF-8 text",
                hint="fix or move the file; nango-hooks never overwrites a file it cannot parse",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            found = _TOML_WHERE.search(message)
            where = f", line {found.group(1)}, column {found.group(2)}" if found else ""
            problem = _TOML_WHERE.sub("", message)
            raise ConfigError(
                f"{path}{where}: invalid TOML ({problem})",
                hint="fix that line, or move the file away to start afresh; "
                "nango-hooks never overwrites a file it cannot parse",
            ) from None
        except (ValueError, RecursionError) as exc:
            # What tomllib does not report as a TOML error: tables nested thousands
            # deep, an integer of thousands of digits.
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            if "digits" in problem:
                problem = "an integer of thousands of digits"
            raise ConfigError(
                f"{path}: invalid TOML ({problem[:120]})",
                hint="fix the file, or move it away to start afresh; "
                "nango-hooks never overwrites a file it cannot parse",
            ) from None
        config = cls(path=path, data=data, exists=True, text=text)
        config.validate()
        config.warnings = files.directory_warnings(path.parent)
        if files.readable_by_others(path) and config.holds_secret():
            config.warnings.append(
                f"{path} holds a key and is readable by other users; chmod 600 {path}"
            )
        return config

    def holds_secret(self) -> bool:
        tables = [self.defaults_table(), *(self.env_table(e) for e in self.environments())]
        return any(name in table for table in tables for name in _SECRET_NAMES)

    # -- structure checks (a file that parses can still be wrong)

    def _fail(self, where: str, problem: str) -> ConfigError:
        line = _locate(self.text, where)
        at = f", line {line}" if line else ""
        return ConfigError(
            f"{self.path}{at}: {where}: {problem}",
            hint="fix it with `nango-hooks config set/unset` or by editing the file",
        )

    def validate(self) -> None:
        for key in self.data:
            if key not in _TOP_LEVEL_KEYS:
                raise self._fail(
                    key,
                    "unknown top-level key (expected: " + ", ".join(sorted(_TOP_LEVEL_KEYS)) + ")",
                )
        default_env = self.data.get("default_env")
        if default_env is not None and (
            not isinstance(default_env, str) or not ENV_NAME.match(default_env)
        ):
            raise self._fail("default_env", "must be an environment name such as dev")
        self._check_settings_table("defaults", self.data.get("defaults", {}))
        envs = self.data.get("environments", {})
        if not isinstance(envs, dict):
            raise self._fail("environments", "must be a table of environments")
        for env, table in envs.items():
            if not ENV_NAME.match(env):
                raise self._fail(f"environments.{env}", "invalid environment name")
            self._check_settings_table(f"environments.{env}", table)
        syncs = self.data.get("syncs", {})
        if not isinstance(syncs, dict):
            raise self._fail("syncs", "must be a table of syncs")
        for name, table in syncs.items():
            self._sync_from_table(name, table)
        connections = self.data.get("connections", {})
        if not isinstance(connections, dict):
            raise self._fail("connections", "must be a table of connections")
        for connection, table in connections.items():
            where = f"connections.{connection}"
            if not isinstance(table, dict):
                raise self._fail(where, "must be a table")
            unknown = set(table) - _CONNECTION_KEYS
            if unknown:
                raise self._fail(f"{where}.{sorted(unknown)[0]}", "unknown key (valid: url)")
            if "url" in table:
                try:
                    validate_url(table["url"])
                except ValueError as exc:
                    raise self._fail(f"{where}.url", str(exc)) from None

    def _check_settings_table(self, where: str, table: object) -> None:
        if not isinstance(table, dict):
            raise self._fail(where, "must be a table")
        for key, value in table.items():
            setting = SETTINGS.get(key)
            if setting is None:
                raise self._fail(
                    f"{where}.{key}", "unknown setting (valid: " + ", ".join(SETTINGS) + ")"
                )
            try:
                setting.parse(value)
            except ValueError as exc:
                raise self._fail(f"{where}.{key}", str(exc)) from None

    def _sync_from_table(self, name: str, table: object) -> SyncDef:
        where = f"syncs.{name}"
        if not isinstance(table, dict):
            raise self._fail(where, "must be a table")
        unknown = set(table) - _SYNC_KEYS
        if unknown:
            raise self._fail(
                f"{where}.{sorted(unknown)[0]}",
                "unknown key (valid: " + ", ".join(sorted(_SYNC_KEYS)) + ")",
            )
        models = table.get("models", [])
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise self._fail(f"{where}.models", "must be a list of model names")
        for key in ("integration", "sync_type", "variant"):
            if key in table and not isinstance(table[key], str):
                raise self._fail(f"{where}.{key}", "must be a string")
        if "sync_type" in table and table["sync_type"].upper() not in SYNC_TYPES:
            raise self._fail(f"{where}.sync_type", "must be one of " + ", ".join(SYNC_TYPES))
        return SyncDef(
            name=name,
            integration=table.get("integration"),
            models=tuple(models),
            sync_type=table.get("sync_type"),
            variant=table.get("variant"),
        )

    # -- reading

    def env_table(self, env: str) -> dict[str, Any]:
        table: dict[str, Any] = self.data.get("environments", {}).get(env, {})
        return table

    def defaults_table(self) -> dict[str, Any]:
        table: dict[str, Any] = self.data.get("defaults", {})
        return table

    def environments(self) -> list[str]:
        return list(self.data.get("environments", {}))

    def connection_url(self, connection_id: str) -> str | None:
        table = self.data.get("connections", {}).get(connection_id)
        url = table.get("url") if isinstance(table, dict) else None
        return str(url) if url else None

    def connection_urls(self) -> dict[str, str]:
        return {
            str(c): str(t["url"])
            for c, t in self.data.get("connections", {}).items()
            if isinstance(t, dict) and t.get("url")
        }

    def syncs(self) -> dict[str, SyncDef]:
        return {
            name: self._sync_from_table(name, table)
            for name, table in self.data.get("syncs", {}).items()
        }

    # -- writing

    def table_for_write(self, env: str | None) -> dict[str, Any]:
        """The table a write goes to: the environment's, or `[defaults]` when env is None."""
        if env is None:
            return self.data.setdefault("defaults", {})  # type: ignore[no-any-return]
        return self.data.setdefault("environments", {}).setdefault(env, {})  # type: ignore[no-any-return]

    @classmethod
    @contextmanager
    def editing(cls, path: Path) -> Iterator[ConfigFile]:
        """The file read under an exclusive lock, held until the block ends, so a
        change saved in the block is made to what is on disk then: parallel writers
        (16 `config set-sync` at once) never lose each other's updates. The lock is a
        file beside the config (`.config.toml.lock`, 0600)."""
        if not path.parent.exists():
            files.ensure_state_dir(path.parent)  # made by us, so 0700
        with files.locked(path.with_name(f".{path.name}.lock")):
            yield cls.load(path)

    def save(self) -> files.Written:
        """Write the file (0600, atomically); a symlinked config is written through."""
        import tomli_w

        text = tomli_w.dumps(_drop_empty_tables(self.data))
        if not self.path.parent.exists():
            files.ensure_state_dir(self.path.parent)  # made by us, so 0700
        written = files.atomic_write(self.path, text.encode("utf-8"))
        self.exists = True
        return written


def _locate(text: str, where: str) -> int | None:
    """The line of `where` (a dotted path such as environments.dev.url) in TOML text:
    the key inside its table, else the table's header, else None."""
    *table, key = where.split(".")
    lines = text.splitlines()
    start = 0
    if table:
        names = {".".join(table), ".".join(f'"{t}"' for t in table)}
        for number, line in enumerate(lines):
            header = line.strip()
            if header.startswith("[") and header.strip("[] ") in names:
                start = number + 1
                break
        else:
            return None
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number in range(start, len(lines)):
        stripped = lines[number].strip()
        if number > start and stripped.startswith("[") and table:
            break
        if pattern.match(lines[number]):
            return number + 1
    return start or None


def _drop_empty_tables(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _drop_empty_tables(value)
            if not value and key in ("defaults", "environments", "syncs", "connections"):
                continue
        out[key] = value
    return out
