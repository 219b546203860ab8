"""`config get`, `show`, `path` and `envs`: the config commands that only read
(config_cmd.py registers them beside the ones that write)."""

from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import (
    EnvOption,
    JsonOption,
    complete_settings,
    config_file,
    directories,
    settings,
    use,
)
from nango_cli.cli.output import Column

RevealOption = Annotated[bool, typer.Option("--reveal", help="Show secrets in full.")]
SettingArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="Setting name (listed below).", autocompletion=complete_settings
    ),
]


def get_value(
    ctx: typer.Context,
    name: SettingArgument,
    reveal: RevealOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the effective value of one setting (exit 6 when it is not set)."""
    from nango_cli.app.settings_table import get_setting
    from nango_cli.errors import NotFoundError

    setting = get_setting(name)
    state = use(ctx, env, json_output)
    current = settings(state)
    resolved = current.values[setting.name]
    if resolved.value is None:
        raise NotFoundError(
            f"{setting.name} is not set for environment {current.env!r}",
            hint=f"set it with `nango-hooks config set {setting.name} VALUE`",
        )
    if state.json:
        output.emit(_entry(setting.name, resolved.value, resolved.source, reveal))
        return
    output.out(setting.display(resolved.value, reveal))


def _entry(name: str, value: object, source: str, reveal: bool) -> dict[str, object]:
    from nango_cli.app.settings_table import SETTINGS

    setting = SETTINGS[name]
    shown: object = value
    if (setting.secret and value is not None and not reveal) or (
        setting.kind == "duration" and value is not None
    ):
        shown = setting.display(value)
    return {"name": name, "value": shown, "source": source, "secret": setting.secret}


def show(
    ctx: typer.Context,
    reveal: RevealOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every effective setting with where it comes from (flag, env var, file, default)."""
    from nango_cli.app.settings_table import SETTINGS

    state = use(ctx, env, json_output)
    current = settings(state)
    syncs = current.file.syncs()
    overrides = current.file.connection_urls()
    if state.json:
        output.emit(
            {
                "env": current.env,
                "env_source": current.env_source,
                "config_file": str(current.file.path),
                "settings": [
                    _entry(r.name, r.value, r.source, reveal) for r in current.values.values()
                ],
                "syncs": {
                    name: {
                        "integration": s.integration,
                        "models": list(s.models),
                        "sync_type": s.sync_type,
                        "variant": s.variant,
                    }
                    for name, s in syncs.items()
                },
                "connections": overrides,
            }
        )
        return
    output.out(f"environment {current.env} ({current.env_source})", style="bold")
    output.table(
        [Column("setting", cut=False), "value", "source"],
        [
            [r.name, SETTINGS[r.name].display(r.value, reveal) or "-", r.source]
            for r in current.values.values()
        ],
    )
    if syncs:
        output.out()
        output.table(
            ["sync", "integration", "models", "sync type"],
            [
                [name, s.integration or "-", ", ".join(s.models) or "-", s.sync_type or "-"]
                for name, s in syncs.items()
            ],
        )
    if overrides:
        output.out()
        output.table(
            ["connection", "its own URL (replaces the environment's)"],
            list([[c, u] for c, u in overrides.items()]),
        )
    exists = "" if current.file.exists else " (not created yet)"
    output.out(f"file: {current.file.path}{exists}", style="dim")


def path(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print where the config file and the history store live."""

    state = use(ctx, None, json_output)
    found = directories(state)
    config_path = found.config_file
    if state.json:
        output.emit({"config_file": str(config_path), "history_db": str(found.history_db)})
        return
    output.out(str(config_path))


def envs(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the environments and per-connection URLs; the current environment is starred."""
    import os

    from nango_cli.app.settings import resolve_env

    state = use(ctx, None, json_output)
    file = config_file(state)
    current, source = resolve_env(state.env, file, os.environ)
    names = file.environments()
    if current not in names:
        names.append(current)
    overrides = file.connection_urls()
    if state.json:
        output.emit(
            {
                "current": current,
                "source": source,
                "environments": sorted(names),
                "connections": overrides,
            }
        )
        return
    for name in sorted(names):
        marker = "*" if name == current else " "
        output.out(f"{marker} {name}")
    for connection, url in overrides.items():
        output.out(f"  connection {connection} → {url}", style="dim")
