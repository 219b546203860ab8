"""Everything the CLI writes: streams, colour, safe text, JSON, errors.

stdout carries results (only JSON in --json mode); stderr carries progress,
notes, warnings and errors. Colour only on a terminal and never with NO_COLOR.
Rich is imported only by the commands that draw tables.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from nango_cli.errors import NangoHooksError

# C0 and C1 control characters (and DEL), except tab and newline, which are harmless.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f]")

_STYLES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "dim": "2",
    "bold": "1",
}


def use_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def safe(text: str, keep_newlines: bool = True) -> str:
    """Untrusted text made inert for a terminal: control characters shown as escapes."""
    pattern = _CONTROL if keep_newlines else _CONTROL_ALL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def paint(text: str, style: str | None, stream: IO[str]) -> str:
    if not style or not use_colour(stream):
        return text
    codes = ";".join(_STYLES[s] for s in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def out(text: str = "", style: str | None = None) -> None:
    sys.stdout.write(paint(text, style, sys.stdout) + "\n")
    sys.stdout.flush()


def err(text: str = "", style: str | None = None) -> None:
    sys.stderr.write(paint(text, style, sys.stderr) + "\n")
    sys.stderr.flush()


def note(text: str) -> None:
    err(paint("note: ", "cyan", sys.stderr) + text)


def warn(text: str) -> None:
    err(paint("warning: ", "yellow", sys.stderr) + text)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def show_error(error: NangoHooksError, json_mode: bool) -> None:
    """`error: message` + `hint: …` on stderr; in --json mode also the JSON shape on stdout."""
    err(paint("error: ", "red bold", sys.stderr) + safe(error.message, keep_newlines=False))
    if error.hint:
        err(paint("hint: ", "dim", sys.stderr) + safe(error.hint, keep_newlines=False))
    if json_mode:
        emit_json({"ok": False, "error": error.to_dict()})


def console(stderr: bool = False) -> Console:
    """A Rich console for tables; markup and auto-highlighting off (data is untrusted)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    colour = use_colour(stream)
    return Console(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        no_color=not colour,
        force_terminal=colour or None,
        soft_wrap=False,
    )


def table(headers: list[str], rows: list[list[str]], stream: IO[str] | None = None) -> None:
    """Plain aligned columns; cells are never cut, so piped output stays complete.

    Cells must already be safe (see `safe`).
    """
    stream = stream or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()

    stream.write(paint(line(headers), "bold", stream) + "\n")
    for row in rows:
        stream.write(line(row) + "\n")
    stream.flush()
