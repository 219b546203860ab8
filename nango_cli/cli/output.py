"""Everything the CLI writes: the rendering boundary.

* stdout carries results (only JSON in --json mode); stderr carries progress,
  notes, warnings and errors.
* Every piece of text is escaped here (nango_cli.text.terminal_safe) before it
  is written, so no untrusted field can reach the terminal raw: callers pass
  plain strings, never pre-formatted escape sequences. Styles are applied after
  escaping, by Rich, and only on a terminal without NO_COLOR.
* Tables are drawn by Rich: cell widths by display width (CJK and emoji align),
  long cells cut with an ellipsis, never wider than the terminal.
* JSON documents share one envelope: {"ok": true, "data": ...} or
  {"ok": false, "error": {"kind", "message", "hint", "exit_code"}}.
  NDJSON streams (listen, api) write one such object per line.

Rich is imported only to colour a terminal or draw a table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from nango_cli.text import json_dumps, terminal_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from nango_cli.errors import NangoHooksError


class Styled(NamedTuple):
    """A piece of a line with a Rich style ("red", "bold green", "dim", …)."""

    text: str
    style: str


Segment = str | Styled


def use_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def safe(text: str, keep_newlines: bool = True) -> str:
    """Untrusted text made inert for a terminal (see nango_cli.text)."""
    return terminal_safe(text, keep_newlines)


_consoles: dict[int, Console] = {}


def console(stream: IO[str]) -> Console:
    """A Rich console on `stream`: markup, emoji and highlighting off (data is untrusted)."""
    key = id(stream)
    cached = _consoles.get(key)
    if cached is not None and cached.file is stream:
        return cached
    from rich.console import Console

    colour = use_colour(stream)
    width = None
    if not (getattr(stream, "isatty", None) and stream.isatty()):
        # Not a terminal: no wrapping at 80 columns; tables still cut very long cells.
        width = int(os.environ.get("COLUMNS", "0") or 0) or 200
    made = Console(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        no_color=not colour,
        force_terminal=colour or None,
        color_system="auto" if colour else None,
        soft_wrap=True,
        width=width,
    )
    _consoles[key] = made
    return made


def _text(segments: Sequence[Segment], style: str | None, keep_newlines: bool) -> Text:
    from rich.text import Text

    text = Text(style=style or "")
    for segment in segments:
        if isinstance(segment, Styled):
            text.append(terminal_safe(segment.text, keep_newlines), style=segment.style)
        else:
            text.append(terminal_safe(segment, keep_newlines))
    return text


def write(
    stream: IO[str],
    *segments: Segment,
    style: str | None = None,
    keep_newlines: bool = True,
) -> None:
    """One line on `stream`, every segment escaped; styled only on a colour terminal."""
    if use_colour(stream):
        console(stream).print(_text(segments, style, keep_newlines))
    else:
        plain = "".join(s.text if isinstance(s, Styled) else s for s in segments)
        stream.write(terminal_safe(plain, keep_newlines) + "\n")
    stream.flush()


def out(*segments: Segment, style: str | None = None) -> None:
    write(sys.stdout, *segments, style=style)


def err(*segments: Segment, style: str | None = None) -> None:
    write(sys.stderr, *segments, style=style)


def note(text: str) -> None:
    err(Styled("note: ", "cyan"), text)


def warn(text: str) -> None:
    err(Styled("warning: ", "yellow"), text)


_warned: set[str] = set()


def warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        warn(text)


def raw(data: bytes) -> None:
    """Bytes exactly as they are, for `--raw` (the user asked for them)."""
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


# ---------------------------------------------------------------- JSON


def envelope(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def error_envelope(error: NangoHooksError, data: Any = None) -> dict[str, Any]:
    document: dict[str, Any] = {"ok": False, "error": error.to_dict()}
    if data is not None:
        document["data"] = data
    return document


def emit(data: Any) -> None:
    """The one JSON document of a command that succeeded."""
    emit_document(envelope(data))


def emit_document(document: dict[str, Any]) -> None:
    sys.stdout.write(json_dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def ndjson_line(document: dict[str, Any]) -> str:
    """One line of an NDJSON stream: never more than one line, C1 and bidi escaped."""
    return json_dumps(document) + "\n"


def show_error(error: NangoHooksError, json_mode: bool, data: Any = None) -> None:
    """`error: message` + `hint: …` on stderr; in --json mode also the envelope on stdout."""
    err(Styled("error: ", "red bold"), terminal_safe(error.message, keep_newlines=False))
    if error.hint:
        err(Styled("hint: ", "dim"), terminal_safe(error.hint, keep_newlines=False))
    if json_mode:
        emit_document(error_envelope(error, data))


# ---------------------------------------------------------------- tables


class Column(NamedTuple):
    header: str
    # Cells of a column that may be cut (with an ellipsis) when the table is too wide;
    # ids and times are never cut.
    cut: bool = True
    justify: str = "left"
    min_width: int | None = None


def table(
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[Segment]],
    stream: IO[str] | None = None,
    max_cell: int = 120,
) -> None:
    """Aligned columns by display width, cut with an ellipsis to fit the terminal.

    Every cell is escaped; a cell longer than `max_cell` is cut first, so one huge
    field cannot pad every row.
    """
    from rich import box
    from rich.table import Table

    stream = stream or sys.stdout
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        expand=False,
        padding=(0, 2, 0, 0),
    )
    for column in cols:
        grid.add_column(
            column.header,
            overflow="ellipsis" if column.cut else "fold",
            no_wrap=True,
            justify=column.justify,  # type: ignore[arg-type]
            min_width=column.min_width,
        )
    for row in rows:
        grid.add_row(*[_cell(cell, max_cell) for cell in row])
    console(stream).print(grid)
    stream.flush()


def _cell(cell: Segment, max_cell: int) -> Text:
    from rich.text import Text

    if isinstance(cell, Styled):
        text, style = cell.text, cell.style
    else:
        text, style = cell, ""
    safe_text = terminal_safe(text, keep_newlines=False)
    if len(safe_text) > max_cell:
        safe_text = safe_text[: max_cell - 1] + "…"
    return Text(safe_text, style=style)
