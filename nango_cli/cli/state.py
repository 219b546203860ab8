"""Global options, shared option aliases, and loading settings for a command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from nango_cli.config import ConfigFile, Settings


@dataclass
class AppState:
    env: str | None = None
    config: str | None = None
    json: bool = False
    debug: bool = False


EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="Nango environment (dev, prod, …). [env: NANGO_HOOKS_ENV]",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout.", show_default=False)
]


def app_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def use(ctx: typer.Context, env: str | None = None, json_output: bool = False) -> AppState:
    """Fold a command's own --env/--json into the global state and return it."""
    state = app_state(ctx)
    if env:
        state.env = env
    if json_output:
        state.json = True
    return state


def config_file(state: AppState) -> ConfigFile:
    from nango_cli import paths
    from nango_cli.config import ConfigFile

    return ConfigFile.load(paths.config_file(state.config))


def settings(state: AppState, flags: dict[str, Any] | None = None) -> Settings:
    from nango_cli.config import resolve

    return resolve(config_file(state), state.env, flags)
