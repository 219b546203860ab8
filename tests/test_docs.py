"""Every command has help and is documented; every exit code is documented."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from nango_cli.cli import app
from nango_cli.errors import ExitCode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands(group, prefix=()):  # type: ignore[no-untyped-def]
    """Every command, loading the lazy root group's commands as `--help` would."""
    import typer

    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = (*prefix, name)
        yield path, command
        if hasattr(command, "list_commands"):
            yield from _commands(command, path)


def test_every_command_has_help_and_is_in_the_readme() -> None:
    commands = list(_commands(get_command(app)))
    assert len(commands) >= 20
    for path, command in commands:
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
        words = " ".join(path)
        assert (
            f"nango-hooks {words}" in README
            or f"`{words}" in README
            or (f"config {path[-1]}" in README)
        ), f"`{words}` is not documented in README.md"


def test_every_exit_code_is_documented() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_the_root_listing_matches_each_commands_own_help() -> None:
    """`--help` lists commands from a table (so it imports none of them); each line
    must be the command's own first help line."""
    from nango_cli.cli import COMMANDS

    root = get_command(app)
    for path, command in _commands(root):
        if len(path) == 1:
            first_line = (command.help or "").strip().splitlines()[0]
            assert COMMANDS[path[0]][1] == first_line, path[0]


def test_every_group_lists_its_commands_in_its_help(cli) -> None:
    """The sectioned help (nango_cli/cli/help_format.py) keeps a group's command list."""
    root = get_command(app)
    groups = [(path, c) for path, c in _commands(root) if hasattr(c, "list_commands")]
    assert {path[0] for path, _ in groups} >= {"config", "history", "records"}
    for path, group in groups:
        shown = cli(*path, "--help").stdout
        assert "Commands:" in shown, path
        for name in group.list_commands(None):
            assert f"  {name} " in shown, (path, name)


def test_every_scenario_in_the_docs_is_a_valid_file() -> None:
    """A scenario shown in README.md or docs/ is one `scenario run` accepts."""
    import re

    from nango_cli.app.scenarios.files import parse

    root = Path(__file__).resolve().parent.parent
    found = 0
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            if block.startswith("version: 1"):
                parse(block, f"{path.name}.yaml")
                found += 1
    assert found >= 2  # README's lifecycle and docs/scenarios.md's file
