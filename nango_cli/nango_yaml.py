"""Discover a project's syncs from its nango.yaml (shared/nango-webhooks.md, section 7).

Two formats are read: the current one (`integrations.<key>.syncs.<name>.output`)
and the oldest (`integrations.<key>.<name>.returns`, syncs directly under the
integration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nango_cli.errors import ConfigError, NotFoundError

SEARCH = ("nango.yaml", "nango-integrations/nango.yaml")


@dataclass(frozen=True)
class SyncInfo:
    integration: str
    name: str
    models: tuple[str, ...]
    sync_type: str | None = None
    runs: str | None = None
    webhook_subscriptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "sync": self.name,
            "models": list(self.models),
            "sync_type": self.sync_type,
            "runs": self.runs,
            "webhook_subscriptions": list(self.webhook_subscriptions),
        }


def find(explicit: str | None = None, cwd: Path | None = None) -> Path | None:
    """The nango.yaml to read: an explicit path (must exist), else the first found."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise NotFoundError(
                f"no nango.yaml at {path}", hint="check --nango-yaml or the nango_yaml setting"
            )
        return path
    base = cwd or Path.cwd()
    for candidate in SEARCH:
        path = base / candidate
        if path.is_file():
            return path
    return None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def load(path: Path) -> dict[str, SyncInfo]:
    """Syncs by name. A file that does not parse is a ConfigError naming file and line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="check the file") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{path}: {where}invalid YAML ({problem})", hint="fix the file, or pass --nango-yaml"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("integrations", {}), dict):
        raise ConfigError(
            f"{path}: expected a mapping with an 'integrations' key",
            hint="see Nango's nango.yaml reference",
        )
    syncs: dict[str, SyncInfo] = {}
    for integration, table in (document.get("integrations") or {}).items():
        if not isinstance(table, dict):
            continue
        if isinstance(table.get("syncs"), dict) or "actions" in table:
            entries = table.get("syncs") or {}
            model_key = "output"
        else:  # the oldest format: syncs directly under the integration, models in `returns`
            entries = {k: v for k, v in table.items() if isinstance(v, dict) and "returns" in v}
            model_key = "returns"
        for name, sync in entries.items():
            if not isinstance(sync, dict):
                continue
            syncs[str(name)] = SyncInfo(
                integration=str(integration),
                name=str(name),
                models=_names(sync.get(model_key)),
                sync_type=sync.get("sync_type") if isinstance(sync.get("sync_type"), str) else None,
                runs=sync.get("runs") if isinstance(sync.get("runs"), str) else None,
                webhook_subscriptions=_names(sync.get("webhook-subscriptions")),
            )
    return syncs


def discover(
    explicit: str | None = None, cwd: Path | None = None
) -> tuple[Path | None, dict[str, SyncInfo]]:
    path = find(explicit, cwd)
    return path, (load(path) if path else {})
