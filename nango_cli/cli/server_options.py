"""The options every server command shares (`listen`, `api`, `ui`, `tunnel`, `dev`,
and the API `scenario run` and `check` serve): the port, the limits, the host names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli.common import parse_size

if TYPE_CHECKING:
    from nango_cli.servers.limits import Limits


def port_option(flag: str, setting: str, what: str, short: bool = False) -> Any:
    """A server's port option (0: any free one). Unset, the `setting` applies; the help
    quotes its default from the settings table, the one place it is written."""
    from nango_cli.app.settings_table import get_setting

    default = get_setting(setting).default
    return typer.Option(
        *((flag, "-p") if short else (flag,)),
        metavar="PORT",
        min=0,
        max=65535,
        help=f"{what} (0: any free one). [default: the {setting} setting, {default}]",
    )


# ---------------------------------------------------------------- the servers' limits

LIMITS = "Limits"
MaxBodyOption = Annotated[
    str,
    typer.Option(
        "--max-body",
        metavar="SIZE",
        help="Largest body accepted (413 above, not read).",
        rich_help_panel=LIMITS,
    ),
]
BodyBudgetOption = Annotated[
    str,
    typer.Option(
        "--body-budget",
        metavar="SIZE",
        help="Bodies in flight at once, in all (503 with Retry-After above).",
        rich_help_panel=LIMITS,
    ),
]
MaxConnectionsOption = Annotated[
    int,
    typer.Option(
        "--max-connections",
        metavar="N",
        min=1,
        help="Open connections at once (503 and close beyond).",
        rich_help_panel=LIMITS,
    ),
]
IdleTimeoutOption = Annotated[
    float,
    typer.Option(
        "--idle-timeout",
        metavar="SECONDS",
        min=0.1,
        help="Close a connection idle this long, or still sending its headers.",
        rich_help_panel=LIMITS,
    ),
]
BodyTimeoutOption = Annotated[
    float,
    typer.Option(
        "--body-timeout",
        metavar="SECONDS",
        min=0.1,
        help="A body must arrive within this (408 after).",
        rich_help_panel=LIMITS,
    ),
]


def server_limits(
    max_body: str, body_budget: str, max_connections: int, idle_timeout: float, body_timeout: float
) -> Limits:
    """The limits flags (the same for listen, api and ui) as the servers take them."""
    from nango_cli.servers.limits import Limits

    return Limits(
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        body_timeout=body_timeout,
        max_body=parse_size(max_body, "--max-body"),
        body_budget=parse_size(body_budget, "--body-budget"),
    )


AllowHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        metavar="NAME",
        help="Also answer requests for this host name (a tunnel's, a container's); others "
        "than its own address get 421 (repeatable).",
    ),
]
