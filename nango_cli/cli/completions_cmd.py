"""`nango-hooks completions SHELL`: print the shell completion script."""

from __future__ import annotations

from typing import Annotated

import typer

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_NANGO_HOOKS_COMPLETE"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="nango-hooks", complete_var=COMPLETE_VAR, shell=shell)


def completions(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", metavar="SHELL")],
) -> None:
    """Print the completion script for SHELL (see README: Shell completions)."""
    from nango_cli.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"unsupported shell {shell!r}", hint="use one of: " + ", ".join(SHELLS))
    typer.echo(script(shell), nl=False)


def register(app: typer.Typer) -> None:
    app.command("completions")(completions)
