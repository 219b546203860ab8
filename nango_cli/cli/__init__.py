"""The command line: global options, lazy command loading, errors and exit codes.

This package is the only one that imports typer or rich. Each command lives in
its own module with its own Typer app; the root group lists them from the table
below and imports a module only when its command runs (or its help is asked
for), so `nango-hooks --help` and `config get` stay fast as commands are added.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from nango_cli import __version__
from nango_cli.cli import fast_params, help_format
from nango_cli.cli.common import AppState, EnvOption, app_state
from nango_cli.cli.environment import Environment, invocation, using

fast_params.install()

# name -> (module, one-line help). The one-line help is also each command's first
# docstring line; tests/test_docs.py checks they agree.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo_cmd", "See it work: a listener, a signed sync webhook fired at it, verified."),
    "dev": (
        "dev_cmd",
        "Develop a handler: the Nango API, a listener, the inspector, one Ctrl-C.",
    ),
    "fire": ("fire_cmd", "Simulate a Nango webhook: build, sign, send with retries, record."),
    "replay": ("replay_cmd", "Resend stored webhooks, unchanged unless --resign or --set."),
    "listen": ("listen_cmd", "Receive webhooks locally: print, verify, check, store, answer."),
    "tunnel": (
        "tunnel_cmd",
        "Receive one connection's real Nango webhooks here, then put its URL back.",
    ),
    "check": ("check_cmd", "Test a webhook handler against Nango's contract."),
    "scenario": (
        "scenario_cmd",
        "Run lifecycle scenarios against a handler: what it fetches, holds, answers.",
    ),
    "api": ("api_cmd", "Serve the Nango API calls a webhook handler makes, from what was fired."),
    "records": ("records_cmd", "List, show and clear the records the API serves."),
    "ui": ("ui_cmd", "Browse, inspect, replay and fire webhooks in a web page."),
    "syncs": ("syncs_cmd", "List the project's syncs, models and fields."),
    "verify": (
        "signature_cmd:verify_app",
        "Check a body against a signature (exit 5 if not valid).",
    ),
    "sign": ("signature_cmd:sign_app", "Print the headers Nango would send with a body."),
    "vectors": (
        "vectors_cmd",
        "Print signature test vectors for webhook verifiers in any language.",
    ),
    "history": ("history_cmd", "Browse, inspect, export and import recorded webhooks."),
    "mcp": ("mcp_cmd", "Serve nango-hooks as MCP tools for coding agents (stdio)."),
    "config": ("config_cmd", "Show and change settings: URLs, keys, retries, environments."),
    "completions": ("completions_cmd", "Print the shell completion script for bash, zsh or fish."),
}


def json_requested() -> bool:
    """--json anywhere on the command line (before parsing), or NANGO_HOOKS_JSON."""
    return invocation().json


class NangoGroup(TyperGroup):
    """Lazy commands; expected errors as `error:` + hint and an exit code, never a traceback."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        import importlib

        from typer.main import get_command

        module_name, _, attr = COMMANDS[cmd_name][0].partition(":")
        module = importlib.import_module(f"nango_cli.cli.{module_name}")
        command = get_command(getattr(module, attr or "app"))
        command.name = cmd_name
        help_format.polish(command)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, summary) for name, (_, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        """One invocation, in an environment of its own: `environment=` when the caller
        gives one (the entry point's leaves with os._exit), else this process's;
        `directories=` puts its state elsewhere (a test's own folder)."""
        given = kwargs.pop("environment", None)
        directories = kwargs.pop("directories", None)
        argv = list(sys.argv[1:] if args is None else args)
        if given is None:
            env = Environment.for_process(argv)
        else:
            env = given
            env.argv, env.json = tuple(argv), env.json or Environment.for_process(argv).json
        if directories is not None:
            env.directories = directories
        with using(env):
            return self._main(args, *rest, **kwargs)

    def _main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
        from typer.exceptions import Abort, Exit

        from nango_cli.errors import ExitCode, UsageError

        try:
            result = super().main(args, *rest, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:  # bad option, missing argument, bad value: exit 2
            from nango_cli.cli.output import show_error

            command = _command_path(exc)
            # A stream's reader (listen, api) gets its usage error as one line too.
            invocation().streaming = (command or "").split()[-1:] in (["listen"], ["api"])
            hint = f"see `{command} --help`" if command else "see `nango-hooks --help`"
            show_error(UsageError(exc.format_message(), hint=hint), json_requested())
            sys.exit(int(ExitCode.USAGE))
        except Exit as exc:
            sys.exit(exc.exit_code)
        except Abort:
            sys.stderr.write("interrupted\n")
            sys.exit(int(ExitCode.INTERRUPTED))
        if isinstance(result, int):
            sys.exit(result)
        sys.exit(0)

    def invoke(self, ctx: Any) -> Any:
        from nango_cli.errors import ExitCode, NangoHooksError

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            exit_on_broken_pipe()
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise
        except NangoHooksError as exc:
            from nango_cli.cli.output import show_error

            show_error(exc, app_state(ctx).json, getattr(exc, "data", None))
            ctx.exit(int(exc.exit_code))
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException):
                raise
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


def exit_on_broken_pipe() -> None:
    """The reader of stdout went away (`| head`): stop quietly, as git does (exit 141,
    128 + SIGPIPE), with nothing more written and no "Exception ignored" at exit."""
    from nango_cli.errors import ExitCode

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(int(ExitCode.BROKEN_PIPE))


def _command_path(exc: Any) -> str | None:
    ctx = getattr(exc, "ctx", None)
    return ctx.command_path if ctx is not None else None


app = typer.Typer(
    cls=NangoGroup,
    name="nango-hooks",
    help="Fire, replay and receive Nango webhooks locally and in CI.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        if json_requested():
            from nango_cli.cli.output import emit

            emit({"version": __version__})
        else:
            typer.echo(f"nango-hooks {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env: EnvOption = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="PATH",
            help="Config file to use. [env: NANGO_HOOKS_CONFIG]",
            envvar="NANGO_HOOKS_CONFIG",
            show_envvar=False,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="JSON on stdout, for scripts and CI. [env: NANGO_HOOKS_JSON]"),
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
    environment = invocation()
    environment.json = environment.json or json_output
    ctx.obj = AppState(env=env, config=config, json=environment.json, debug=debug)
