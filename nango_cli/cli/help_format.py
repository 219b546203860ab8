"""How `--help` shows a command: arguments by their metavar, options in sections.

Typer draws help panels (`rich_help_panel=`) only with Rich, which costs `--help`
~40 ms to import; nango-hooks keeps Rich off the help path (docs/performance.md)
and draws the same sections with Click's own formatter: each panel in the order
its first option appears, then the options without one (--env, --json, --help)
under "Options".
"""

from __future__ import annotations

import types
from typing import Any


def polish(command: Any) -> None:
    """Plain arguments and sectioned options for `command` and its subcommands; shell
    completion's own options are the root command's only."""
    _plain_arguments(command)
    command.params = [
        p for p in command.params if p.name not in ("install_completion", "show_completion")
    ]
    command.format_options = types.MethodType(_format_options, command)
    for sub in getattr(command, "commands", {}).values():
        polish(sub)


def _plain_arguments(command: Any) -> None:
    """An argument shows as its metavar (`ID`, `FILE`), as Click does, not Typer's
    `{ID}` in the usage line and `ID <str>` in the list (the type name means nothing to
    a user; the metavar and the help say what to give)."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument" and param.metavar:
            shown = param.metavar
            usage = shown if param.required else f"[{shown}]"
            if param.nargs != 1:
                usage += "..."
            param.display_type = lambda ctx: ""
            param.display_type_rich = lambda ctx: ""
            param._usage_display_name = lambda usage=usage: usage


def _format_options(self: Any, ctx: Any, formatter: Any) -> None:
    arguments: list[tuple[str, str]] = []
    sections: dict[str, list[tuple[str, str]]] = {}
    general: list[tuple[str, str]] = []
    for param in self.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            arguments.append(record)
            continue
        panel = getattr(param, "rich_help_panel", None)
        if panel:
            sections.setdefault(panel, []).append(record)
        else:
            general.append(record)
    sections["Options"] = general
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    for title, records in sections.items():
        if records:
            with formatter.section(title):
                formatter.write_dl(records)
    format_commands = getattr(self, "format_commands", None)
    if format_commands is not None:  # a group: its subcommands, as Click lists them
        format_commands(ctx, formatter)
