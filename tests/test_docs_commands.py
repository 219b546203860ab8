"""Every `nango-hooks` line in docs/ and README.md names a command that exists, with
options it has and no more arguments than it takes, as today's CLI parses them.

The pages written as one path to follow run as written (tests/cli/test_readme_paths.py:
README's set-up and "Develop a handler", and the tour); the other pages list examples
side by side (an id to show, then `history clear`, then a replay of that id), some
needing a Nango account or a tunnel. This test covers every line of every page, so no
page shows a command or a flag that was renamed or removed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command

from nango_cli.cli import app
from tests.conftest import ROOT

PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
# Where a shell line ends and something else begins (a pipe, a redirect, a
# background job, the next command); "|" between two flags means "or" in the pages.
_STOPS = {"|", "||", ">", ">>", "<", "&", "&&", ";", "2>", "2>&1"}


def doc_lines(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, command) for each `nango-hooks …` in the page's shell blocks, a
    line continued with a backslash joined to the next."""
    text = page.read_text()
    for match in re.finditer(r"```(?:sh|bash|shell|console)\n(.*?)```", text, re.S):
        first = text.count("\n", 0, match.start(1)) + 1
        pending, start = "", 0
        for offset, raw in enumerate(match.group(1).splitlines()):
            if not pending:
                start = first + offset
            line = raw.rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            whole, pending = pending + line, ""
            found = re.search(r"(?:^|[\s(;&|$])nango-hooks\s", whole)
            if found and not whole.lstrip().startswith(("pip ", "#")):
                yield start, whole[found.start() :].strip()


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = list(lexer)
    words = words[words.index("nango-hooks") + 1 :]
    for i, word in enumerate(words):
        if word in _STOPS:
            return words[:i]
    return words


def problem(command: str) -> str | None:
    """What today's CLI would refuse in `command`, or None."""
    words = _tokens(command)
    # Typer carries its own copy of click: a group is what lists commands.
    group: Any = get_command(app)
    ctx = typer.Context(group)
    path = ["nango-hooks"]
    while hasattr(group, "list_commands") and words:
        if words[0].startswith("-"):  # the group's own option (`nango-hooks --json fire`)
            option = next((p for p in group.params if words[0] in p.opts), None)
            if option is None or not hasattr(group, "invoke_without_command"):
                break
            if group.invoke_without_command and path != ["nango-hooks"]:
                break  # a group that runs itself: the rest is its own (`history --json`)
            del words[: 1 if option.is_flag or option.count else 2]
            continue
        found = group.get_command(ctx, words[0])
        if found is None:
            if group.invoke_without_command:
                break  # the group's own arguments (`history` lists)
            return f"no command `{' '.join([*path, words[0]])}`"
        path.append(words.pop(0))
        group = found
        ctx = typer.Context(group, info_name=path[-1], parent=ctx)
    parser = group.make_parser(ctx)
    try:
        _values, arguments, _order = parser.parse_args(list(words))
    except Exception as exc:  # click's UsageError (NoSuchOption, BadOptionUsage)
        if not hasattr(exc, "format_message"):
            raise
        return f"`{' '.join(path)}`: {exc.format_message()}"
    if arguments:  # what the command's arguments did not take
        return f"`{' '.join(path)}` takes no more arguments; the page adds {arguments}"
    return None


CASES = [
    pytest.param(page, number, command, id=f"{page.name}:{number}")
    for page in PAGES
    for number, command in doc_lines(page)
]


def test_the_pages_show_commands() -> None:
    """The extraction finds what it should: a line in each page that has one."""
    pages = {page.name for page, _n, _c in (case.values for case in CASES)}
    assert {"README.md", "history.md", "listen.md", "api.md", "tunnel.md"} <= pages
    assert len(CASES) > 80


@pytest.mark.parametrize(("page", "number", "command"), CASES)
def test_every_command_in_the_pages_parses(page: Path, number: int, command: str) -> None:
    assert problem(command) is None, f"{page.name}:{number}: {problem(command)}\n  {command}"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("nango-hooks histroy", "no command `nango-hooks histroy`"),
        ("nango-hooks listen --colour", "No such option: --colour"),
        ("nango-hooks history show a b", "the page adds ['b']"),
        ("nango-hooks fire --sync", "Option '--sync' requires an argument"),
    ],
)
def test_a_stale_line_is_named(command: str, expected: str) -> None:
    """The guard can fail: a renamed command, a removed flag, an extra argument."""
    found = problem(command)
    assert found is not None and expected in found
