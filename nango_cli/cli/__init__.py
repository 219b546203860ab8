"""The Typer app: global options, error handling, and the command groups.

This package is the only one that imports typer or rich.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from nango_cli import __version__
from nango_cli.cli import (
    check_cmd,
    completions_cmd,
    config_cmd,
    fast_params,
    fire_cmd,
    history_cmd,
    listen_cmd,
    replay_cmd,
    signature_cmd,
)
from nango_cli.cli.state import AppState, app_state

fast_params.install()


class NangoGroup(TyperGroup):
    """Turns expected errors into `error:` + hint and an exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        from nango_cli.errors import ExitCode, NangoHooksError

        try:
            return super().invoke(ctx)
        except NangoHooksError as exc:
            from nango_cli.cli.output import show_error

            show_error(exc, app_state(ctx).json)
            ctx.exit(int(exc.exit_code))
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if app_state(ctx).debug or os.environ.get("NANGO_HOOKS_DEBUG"):
                raise
            from nango_cli.cli.output import show_error
            from nango_cli.errors import NangoHooksError as Base

            # Only the exception's type: its text could carry a secret.
            show_error(
                Base(
                    f"unexpected {type(exc).__name__}",
                    hint="run again with --debug for a traceback, and report it if it persists",
                ),
                app_state(ctx).json,
            )
            ctx.exit(int(ExitCode.UNEXPECTED))


app = typer.Typer(
    cls=NangoGroup,
    name="nango-hooks",
    help="Fire, replay and receive Nango webhooks locally and in CI.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nango-hooks {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Nango environment (dev, prod, …). [env: NANGO_HOOKS_ENV]"
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Config file to use. [env: NANGO_HOOKS_CONFIG]",
            envvar="NANGO_HOOKS_CONFIG",
            show_envvar=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON output on stdout (for scripts and CI).")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Fire, replay and receive Nango webhooks locally and in CI.

    State lives in the platform's config and data directories;
    NANGO_HOOKS_HOME relocates all of it.
    """
    ctx.obj = AppState(env=env, config=config, json=json_output, debug=debug)


app.add_typer(config_cmd.app, name="config")
fire_cmd.register(app)
replay_cmd.register(app)
listen_cmd.register(app)
check_cmd.register(app)
signature_cmd.register(app)
app.add_typer(history_cmd.app, name="history")
completions_cmd.register(app)
