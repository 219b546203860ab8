"""`nango-hooks mcp`: nango-hooks as MCP tools for coding agents, over stdio."""

from typing import Annotated

import typer

from nango_cli.cli.common import EnvOption, directories, settings, use

app = typer.Typer(rich_markup_mode=None)


@app.command("mcp")
def mcp(
    ctx: typer.Context,
    allow_write: Annotated[
        bool,
        typer.Option(
            "--allow-write",
            help="Also offer the tools that send webhooks or change state (fire, replay, "
            "check, scenario run, API faults); without it they are not listed.",
        ),
    ] = False,
    env: EnvOption = None,
) -> None:
    """Serve nango-hooks as MCP tools for coding agents (stdio).

    Read-only tools: history list and show (with the handler's API calls), verify,
    settings, records, scenario validation, protocol notes. --allow-write adds fire,
    replay, check, scenario run and API faults. Each answers the CLI's --json document.
    Needs the `mcp` extra: pip install 'nango-hooks[mcp]'.

    Example (Claude Code): claude mcp add nango-hooks -- nango-hooks mcp --allow-write
    """
    from nango_cli.errors import ConfigError

    state = use(ctx, env, False)
    current = settings(state)
    try:
        from nango_cli.servers import mcp as server_module
    except ImportError:
        raise ConfigError(
            "`nango-hooks mcp` needs the MCP SDK, an optional extra",
            hint="pip install 'nango-hooks[mcp]'",
        ) from None
    server = server_module.build(
        directories(state),
        allow_write=allow_write,
        env=env,
        target_is_loopback=server_module.is_loopback_url(current.url),
    )
    server.run("stdio")
