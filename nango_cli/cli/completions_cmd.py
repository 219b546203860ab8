"""`nango-hooks completions SHELL`: print the shell completion script."""

from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import JsonOption, use

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_NANGO_HOOKS_COMPLETE"
app = typer.Typer(rich_markup_mode=None)


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="nango-hooks", complete_var=COMPLETE_VAR, shell=shell)


@app.command("completions")
def completions(
    ctx: typer.Context,
    shell: Annotated[
        str,
        typer.Argument(
            metavar="SHELL",
            help="bash, zsh or fish.",
            autocompletion=lambda incomplete: [s for s in SHELLS if s.startswith(incomplete)],
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Completes commands, options, sync names, environment names and setting
    names. docs/configuration.md, Shell completions, says where to put it.
    """
    from nango_cli.errors import UsageError

    state = use(ctx, None, json_output)
    if shell not in SHELLS:
        raise UsageError(f"unsupported shell {shell!r}", hint="use one of: " + ", ".join(SHELLS))
    if state.json:
        output.emit({"shell": shell, "script": script(shell)})
        return
    typer.echo(script(shell), nl=False)
