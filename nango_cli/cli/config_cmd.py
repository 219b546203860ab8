"""`nango-hooks config …`: read and write settings."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import config_read, output
from nango_cli.cli.common import (
    AppState,
    EnvOption,
    JsonOption,
    complete_envs,
    complete_settings,
    directories,
    use,
)
from nango_cli.cli.environment import invocation

if TYPE_CHECKING:
    from nango_cli.app.config_file import ConfigFile

app = typer.Typer(
    help="Show and change settings: URLs, keys, retries, environments.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DefaultsOption = Annotated[
    bool,
    typer.Option("--defaults", help="Write to [defaults] (shared by every environment) instead."),
]
RevealOption = Annotated[bool, typer.Option("--reveal", help="Show secrets in full.")]
SettingArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="Setting name (listed below).", autocompletion=complete_settings
    ),
]


def _settings_epilog() -> str:
    from nango_cli.app.settings_table import SETTINGS

    width = max(len(name) for name in SETTINGS) + 2
    lines = ["Settings:"]
    lines += [f"  {s.name:<{width}}{s.help}" for s in SETTINGS.values()]
    return "\n\n".join(["\b\n" + "\n".join(lines)])


def _where(env: str | None) -> str:
    return "[defaults]" if env is None else f"environment {env!r}"


def _edit(
    state: AppState, change: Callable[["ConfigFile"], tuple[str, dict[str, Any]] | None]
) -> None:
    """Change the config file under its lock: read it afresh, let `change` edit it (it
    returns what to say and the JSON data, or None when there is nothing to write),
    write it, then say what was done (and where a symlinked config really went)."""
    from nango_cli.app.config_file import ConfigFile

    with ConfigFile.editing(directories(state).config_file) as file:
        for text in file.warnings:
            output.warn_once(text)
        before = set(file.environments())
        result = change(file)
        if result is None:
            return
        written = file.save()
        created = sorted(set(file.environments()) - before)
    done, data = result
    data = {**data, "config_file": str(written.path), "through_symlink": written.through_symlink}
    if created:
        data["created_envs"] = created
        # `-e staging` on a name that did not exist makes it: say so (a typo would
        # otherwise leave a setting where nothing reads it).
        names = ", ".join(repr(name) for name in created)
        output.note(f"created environment {names} (`nango-hooks config envs` lists them)")
    if state.json:
        output.emit(data)
        return
    output.err(done)
    if written.through_symlink:
        output.note(f"{file.path} is a symlink: wrote its target, {written.path}")


def _target_env(state: AppState, file: "ConfigFile", defaults: bool) -> str | None:
    import os

    from nango_cli.app.settings import resolve_env

    return None if defaults else resolve_env(state.env, file, os.environ)[0]


def _write_setting(
    ctx: typer.Context,
    env: str | None,
    json_output: bool,
    name: str,
    value: object,
    defaults: bool = False,
) -> None:
    from nango_cli.app.settings_table import get_setting
    from nango_cli.errors import UsageError

    setting = get_setting(name)
    state = use(ctx, env, json_output)
    try:
        parsed = setting.parse(value)
    except ValueError as exc:
        raise UsageError(
            f"invalid value for {setting.name}: {exc}",
            hint=f"{setting.name} ({setting.kind}): {setting.help}",
        ) from None

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        target = _target_env(state, file, defaults)
        file.table_for_write(target)[setting.name] = setting.to_toml(parsed)
        display = setting.display(parsed)
        done = f"{setting.name} of {_where(target)} set to {display}"
        return done, {"name": setting.name, "value": display, "env": target}

    _edit(state, change)


@app.command("set-url")
def set_url(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Argument(metavar="URL", help="The app's webhook endpoint, http(s)://host/path.")
    ],
    secondary: Annotated[
        bool, typer.Option("--secondary", help="Set the secondary URL instead.")
    ] = False,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection",
            "-c",
            metavar="ID",
            help="This connection's own URL (Nango's webhook_url_override): its webhooks go "
            "only there.",
        ),
    ] = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set the webhook URL of an environment, or of one connection."""
    if connection is None:
        _write_setting(ctx, env, json_output, "secondary_url" if secondary else "url", url)
        return
    from nango_cli.app.settings_table import validate_url
    from nango_cli.errors import UsageError

    if secondary:
        raise UsageError(
            "--secondary and --connection exclude each other",
            hint="a connection's URL replaces both environment URLs, as in Nango",
        )
    try:
        checked = validate_url(url)
    except ValueError as exc:
        raise UsageError(f"invalid URL {url!r}: {exc}") from None
    state = use(ctx, env, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        file.data.setdefault("connections", {}).setdefault(connection, {})["url"] = checked
        done = f"webhooks of connection {connection!r} now go only to {checked}"
        return done, {"connection": connection, "url": checked}

    _edit(state, change)


@app.command("unset-url")
def unset_url(
    ctx: typer.Context,
    connection: Annotated[
        str, typer.Option("--connection", "-c", metavar="ID", help="The connection.")
    ],
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove a connection's own URL (its webhooks go to the environment's URLs again)."""
    from nango_cli.errors import NotFoundError

    state = use(ctx, env, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        table = file.data.get("connections", {}).get(connection)
        if not isinstance(table, dict) or "url" not in table:
            raise NotFoundError(
                f"connection {connection!r} has no URL of its own", hint="`config envs` lists them"
            )
        del table["url"]
        done = f"connection {connection!r} uses the environment's URLs again"
        return done, {"connection": connection, "removed": True}

    _edit(state, change)


@app.command("set-key")
def set_key(
    ctx: typer.Context,
    key: Annotated[
        str | None,
        typer.Argument(
            metavar="KEY", help="The webhook signing key; omit it to be prompted (hidden)."
        ),
    ] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from standard input.")
    ] = False,
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate",
            help="A rotation: the current key becomes previous_signing_key (both verify).",
        ),
    ] = False,
    secret: Annotated[
        bool,
        typer.Option(
            "--secret",
            help="Set the API secret key (secret_key) instead: the local API's bearer token, "
            "and what verification failures are compared with.",
        ),
    ] = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set the webhook signing key (Nango: Environment Settings > Webhooks)."""
    from nango_cli.app.settings_table import mask_secret
    from nango_cli.errors import UsageError

    what = "API secret key" if secret else "webhook signing key"
    if key is None and stdin:
        key = invocation().stdin.readline(4096).strip()
    elif key is None:
        if not invocation().stdin_isatty():
            raise UsageError(
                "no key given and standard input is not a terminal, so there is no prompt",
                hint="pass it as an argument, or pipe it: "
                'printf %s "$KEY" | nango-hooks config set-key --stdin',
            )
        import getpass

        key = getpass.getpass(f"{what[0].upper()}{what[1:]} (hidden): ").strip()
    if not key:
        raise UsageError(f"the {what} is empty", hint="copy it from Nango's environment settings")
    if rotate and secret:
        raise UsageError("--rotate applies to the signing key, not --secret")
    state = use(ctx, env, json_output)
    name = "secret_key" if secret else "signing_key"
    from nango_cli.app.settings import resolve
    from nango_cli.app.settings_table import get_setting

    try:
        value = get_setting(name).parse(key)
    except ValueError as exc:
        raise UsageError(f"invalid {what}: {exc}") from None

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        target = _target_env(state, file, False)
        table = file.table_for_write(target)
        rotated = None
        if rotate:
            current = resolve(file, state.env).signing_key
            if not current:
                raise UsageError(
                    f"nothing to rotate: {_where(target)} has no signing key yet",
                    hint="set it first with `nango-hooks config set-key`",
                )
            table["previous_signing_key"] = current
            rotated = mask_secret(str(current))
        table[name] = value
        done = f"{what} of {_where(target)} saved ({mask_secret(str(value))})"
        if rotated:
            done += f"; the previous key ({rotated}) still verifies until you `config unset " + (
                "previous_signing_key`"
            )
        data = {"name": name, "value": mask_secret(str(value)), "env": target, "previous": rotated}
        return done, data

    _edit(state, change)


@app.command("set", epilog=_settings_epilog())
def set_value(
    ctx: typer.Context,
    name: SettingArgument,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="New value.")],
    defaults: DefaultsOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set a setting in an environment (or in [defaults])."""
    _write_setting(ctx, env, json_output, name, value, defaults)


@app.command("unset", epilog=_settings_epilog())
def unset_value(
    ctx: typer.Context,
    name: SettingArgument,
    defaults: DefaultsOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove a setting from an environment (or from [defaults])."""
    from nango_cli.app.settings_table import get_setting

    setting = get_setting(name)
    state = use(ctx, env, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]] | None:
        target = _target_env(state, file, defaults)
        table = file.env_table(target) if target is not None else file.defaults_table()
        if setting.name not in table:
            if state.json:
                output.emit({"name": setting.name, "env": target, "removed": False})
            else:
                output.err(f"{setting.name} was not set in {_where(target)}: nothing to remove")
            return None
        del file.table_for_write(target)[setting.name]
        done = f"{setting.name} removed from {_where(target)}"
        return done, {"name": setting.name, "env": target, "removed": True}

    _edit(state, change)


# The commands that only read (get, show, path, envs) live in config_read.py.
app.command("get", epilog=_settings_epilog())(config_read.get_value)
app.command("show")(config_read.show)
app.command("path")(config_read.path)
app.command("envs")(config_read.envs)


@app.command("use")
def use_env(
    ctx: typer.Context,
    env_name: Annotated[
        str,
        typer.Argument(
            metavar="ENV", help="Environment to make the default.", autocompletion=complete_envs
        ),
    ],
    create: Annotated[
        bool, typer.Option("--create", help="Create the environment if it does not exist.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Make ENV the default environment (NANGO_HOOKS_ENV and --env still win)."""
    from nango_cli.app.settings_table import validate_env_name
    from nango_cli.errors import NotFoundError

    name = validate_env_name(env_name)
    state = use(ctx, None, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        known = file.environments()
        if name not in known and not create:
            raise NotFoundError(
                f"there is no environment {name!r}"
                + (f" (known: {', '.join(sorted(known))})" if known else ""),
                hint=f"create it with `nango-hooks config use {name} --create`, or set a value "
                f"in it: `nango-hooks -e {name} config set-url URL`",
            )
        file.data["default_env"] = name
        file.data.setdefault("environments", {}).setdefault(name, {})
        return f"default environment is now {name!r}", {"default_env": name}

    _edit(state, change)


@app.command("set-sync")
def set_sync(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Sync name, e.g. github-tickets.")],
    integration: Annotated[
        str | None,
        typer.Option("--integration", "-i", metavar="KEY", help="providerConfigKey, e.g. github."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", metavar="MODEL", help="Output model (repeatable)."),
    ] = None,
    sync_type: Annotated[
        str | None,
        typer.Option(
            "--sync-type", metavar="TYPE", help="Default syncType: INITIAL, INCREMENTAL or WEBHOOK."
        ),
    ] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", metavar="NAME", help="syncVariant.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Describe a sync ([syncs.NAME]) so `fire --sync NAME` needs no other flags."""
    from nango_cli.errors import UsageError
    from nango_cli.protocol.vocabulary import SYNC_TYPES

    if sync_type and sync_type.upper() not in SYNC_TYPES:
        raise UsageError(
            f"invalid sync type {sync_type!r}", hint="use one of: " + ", ".join(SYNC_TYPES)
        )
    state = use(ctx, None, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
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
        return f"sync {name!r} saved", {"sync": name, **table}

    _edit(state, change)


@app.command("unset-sync")
def unset_sync(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Sync name.")],
    json_output: JsonOption = False,
) -> None:
    """Remove a [syncs.NAME] table."""
    from nango_cli.errors import NotFoundError

    state = use(ctx, None, json_output)

    def change(file: "ConfigFile") -> tuple[str, dict[str, Any]]:
        if name not in file.data.get("syncs", {}):
            raise NotFoundError(f"no sync {name!r} in {file.path}", hint="`config show` lists them")
        del file.data["syncs"][name]
        return f"sync {name!r} removed", {"sync": name, "removed": True}

    _edit(state, change)
