"""`nango-hooks config …`: read and write settings."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.state import EnvOption, JsonOption, config_file, settings, use

app = typer.Typer(
    help="Show and change settings (URLs, signing key, retries, environments).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DefaultsOption = Annotated[
    bool,
    typer.Option("--defaults", help="Write to [defaults] (shared by every environment) instead."),
]
RevealOption = Annotated[bool, typer.Option("--reveal", help="Show secrets in full.")]


def _where(env: str | None) -> str:
    return "[defaults]" if env is None else f"environment {env!r}"


def _write_setting(
    ctx: typer.Context, env: str | None, name: str, value: object | None, defaults: bool = False
) -> tuple[str | None, object | None]:
    import os

    from nango_cli.config import get_setting, resolve_env

    setting = get_setting(name)
    state = use(ctx, env)
    file = config_file(state)
    # The environment a write goes to, or None for [defaults].
    target = None if defaults else resolve_env(state.env, file, os.environ)[0]
    table = file.table_for_write(target)
    parsed = None
    if value is None:
        table.pop(setting.name, None)
    else:
        try:
            parsed = setting.parse(value)
        except ValueError as exc:
            from nango_cli.errors import UsageError

            raise UsageError(
                f"invalid value for {setting.name}: {exc}",
                hint=f"{setting.name} ({setting.kind}): {setting.help}",
            ) from None
        table[setting.name] = setting.to_toml(parsed)
    file.save()
    return target, parsed


@app.command("set-url")
def set_url(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The app's webhook endpoint, http(s)://host/path.")],
    secondary: Annotated[
        bool, typer.Option("--secondary", help="Set the secondary URL instead.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Set the webhook URL of an environment."""
    name = "secondary_url" if secondary else "url"
    target, value = _write_setting(ctx, env, name, url)
    output.err(f"{name} of {_where(target)} set to {output.safe(str(value))}")


@app.command("set-key")
def set_key(
    ctx: typer.Context,
    key: Annotated[
        str | None,
        typer.Argument(help="The webhook signing key; omit it to be prompted (hidden)."),
    ] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from standard input.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Set the webhook signing key (Nango: Environment Settings > Webhooks)."""
    from nango_cli.errors import UsageError

    if key is None and stdin:
        key = sys.stdin.read().strip()
    elif key is None:
        if not sys.stdin.isatty():
            raise UsageError(
                "no key given and standard input is not a terminal, so there is no prompt",
                hint="pass it as an argument, or pipe it: "
                'printf %s "$KEY" | nango-hooks config set-key --stdin',
            )
        import getpass

        key = getpass.getpass("Webhook signing key (hidden): ").strip()
    if not key:
        raise UsageError(
            "the signing key is empty", hint="copy it from Nango's environment settings"
        )
    from nango_cli.config import mask_secret

    target, value = _write_setting(ctx, env, "signing_key", key)
    output.err(f"signing key of {_where(target)} saved ({mask_secret(str(value))})")


@app.command("set")
def set_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Setting name; `config show` lists them.")],
    value: Annotated[str, typer.Argument(help="New value.")],
    defaults: DefaultsOption = False,
    env: EnvOption = None,
) -> None:
    """Set a setting in an environment (or in [defaults])."""
    from nango_cli.config import get_setting

    setting = get_setting(name)
    target, parsed = _write_setting(ctx, env, name, value, defaults)
    output.err(f"{setting.name} of {_where(target)} set to {setting.display(parsed)}")


@app.command("unset")
def unset_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Setting name.")],
    defaults: DefaultsOption = False,
    env: EnvOption = None,
) -> None:
    """Remove a setting from an environment (or from [defaults])."""
    from nango_cli.config import get_setting

    setting = get_setting(name)
    target, _ = _write_setting(ctx, env, name, None, defaults)
    output.err(f"{setting.name} removed from {_where(target)}")


@app.command("get")
def get_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Setting name.")],
    reveal: RevealOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the effective value of one setting (exit 6 when it is not set)."""
    from nango_cli.config import get_setting
    from nango_cli.errors import NotFoundError

    setting = get_setting(name)
    state = use(ctx, env, json_output)
    current = settings(state)
    resolved = current.values[setting.name]
    if state.json:
        output.emit_json(_entry(setting.name, resolved.value, resolved.source, reveal))
        return
    if resolved.value is None:
        raise NotFoundError(
            f"{setting.name} is not set for environment {current.env!r}",
            hint=f"set it with `nango-hooks config set {setting.name} VALUE`",
        )
    output.out(output.safe(setting.display(resolved.value, reveal)))


def _entry(name: str, value: object, source: str, reveal: bool) -> dict[str, object]:
    from nango_cli.config import SETTINGS

    setting = SETTINGS[name]
    shown: object = value
    if setting.secret and value is not None and not reveal:
        shown = setting.display(value)
    return {"name": name, "value": shown, "source": source, "secret": setting.secret}


@app.command("show")
def show(
    ctx: typer.Context,
    reveal: RevealOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every effective setting with where it comes from (flag, env var, file, default)."""
    state = use(ctx, env, json_output)
    current = settings(state)
    syncs = current.file.syncs()
    if state.json:
        output.emit_json(
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
            }
        )
        return
    from nango_cli.config import SETTINGS

    output.out(f"environment {current.env} ({current.env_source})", "bold")
    output.table(
        ["setting", "value", "source"],
        [
            [r.name, output.safe(SETTINGS[r.name].display(r.value, reveal)) or "-", r.source]
            for r in current.values.values()
        ],
    )
    if syncs:
        output.out()
        output.table(
            ["sync", "integration", "models", "sync type"],
            [
                [
                    output.safe(name),
                    output.safe(s.integration or "-"),
                    output.safe(", ".join(s.models) or "-"),
                    s.sync_type or "-",
                ]
                for name, s in syncs.items()
            ],
        )
    exists = "" if current.file.exists else " (not created yet)"
    output.out(f"file: {current.file.path}{exists}", "dim")


@app.command("path")
def path(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print where the config file and the history store live."""
    from nango_cli import paths

    state = use(ctx, None, json_output)
    config_path = paths.config_file(state.config)
    if state.json:
        output.emit_json({"config_file": str(config_path), "history_db": str(paths.history_db())})
        return
    output.out(str(config_path))


@app.command("envs")
def envs(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the environments in the config file; the current one is starred."""
    import os

    from nango_cli.config import resolve_env

    state = use(ctx, None, json_output)
    file = config_file(state)
    current, source = resolve_env(state.env, file, os.environ)
    names = file.environments()
    if current not in names:
        names.append(current)
    if state.json:
        output.emit_json({"current": current, "source": source, "environments": sorted(names)})
        return
    for name in sorted(names):
        marker = "*" if name == current else " "
        output.out(f"{marker} {output.safe(name)}")


@app.command("use")
def use_env(
    ctx: typer.Context,
    env_name: Annotated[
        str, typer.Argument(metavar="ENV", help="Environment to make the default.")
    ],
) -> None:
    """Make ENV the default environment (NANGO_HOOKS_ENV and --env still win)."""
    from nango_cli.config import validate_env_name

    name = validate_env_name(env_name)
    state = use(ctx)
    file = config_file(state)
    file.data["default_env"] = name
    file.data.setdefault("environments", {}).setdefault(name, {})
    file.save()
    output.err(f"default environment is now {name!r}")


@app.command("set-sync")
def set_sync(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Sync name, e.g. github-tickets.")],
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="providerConfigKey, e.g. github.")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Output model (repeatable).")
    ] = None,
    sync_type: Annotated[
        str | None,
        typer.Option("--sync-type", help="Default syncType: INITIAL, INCREMENTAL or WEBHOOK."),
    ] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="syncVariant.")] = None,
) -> None:
    """Describe a sync ([syncs.NAME]) so `fire --sync NAME` needs no other flags."""
    from nango_cli.config import SYNC_TYPES
    from nango_cli.errors import UsageError

    if sync_type and sync_type.upper() not in SYNC_TYPES:
        raise UsageError(
            f"invalid sync type {sync_type!r}", hint="use one of: " + ", ".join(SYNC_TYPES)
        )
    state = use(ctx)
    file = config_file(state)
    table = file.data.setdefault("syncs", {}).setdefault(name, {})
    for key, value in (
        ("integration", integration),
        ("models", list(model) if model else None),
        ("sync_type", sync_type.upper() if sync_type else None),
        ("variant", variant),
    ):
        if value is not None:
            table[key] = value
    file.validate()
    file.save()
    output.err(f"sync {output.safe(name)!r} saved")


@app.command("unset-sync")
def unset_sync(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Sync name.")]) -> None:
    """Remove a [syncs.NAME] table."""
    from nango_cli.errors import NotFoundError

    state = use(ctx)
    file = config_file(state)
    if name not in file.data.get("syncs", {}):
        raise NotFoundError(f"no sync {name!r} in {file.path}", hint="`config show` lists them")
    del file.data["syncs"][name]
    file.save()
    output.err(f"sync {output.safe(name)!r} removed")
