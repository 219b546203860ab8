"""Everything the CLI writes: the rendering boundary.

* stdout carries results (only JSON in --json mode); stderr carries progress,
  notes, warnings and errors.
* Every piece of text is escaped here (support/text.py, terminal_safe) before it
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

import contextlib
import os
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from nango_cli.cli.environment import Environment, invocation
from nango_cli.support.text import json_dumps, terminal_safe

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
    return invocation().colour(stream)


def safe(text: str, keep_newlines: bool = True) -> str:
    """Untrusted text made inert for a terminal (see support/text.py)."""
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
    # Rich turns a closed pipe into SystemExit(1); the CLI's own handler makes it the
    # quiet exit 141 every command gives (`nango-hooks config show | head -1`).
    made.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    _consoles[key] = made
    return made


def _broken_pipe() -> None:
    raise BrokenPipeError


def _text(segments: Sequence[Segment], style: str | None, keep_newlines: bool) -> Text:
    from rich.text import Text

    text = Text(style=style or "")
    for segment in segments:
        if isinstance(segment, Styled):
            text.append(terminal_safe(segment.text, keep_newlines), style=segment.style)
        else:
            text.append(terminal_safe(segment, keep_newlines))
    return text


def render(
    stream: IO[str],
    *segments: Segment,
    style: str | None = None,
    keep_newlines: bool = True,
) -> str:
    """The text `write` would put on `stream` for one line: every segment escaped,
    styled only for a colour terminal; ends with a newline."""
    if use_colour(stream):
        target = console(stream)
        with target.capture() as captured:
            target.print(_text(segments, style, keep_newlines))
        return captured.get()
    plain = "".join(s.text if isinstance(s, Styled) else s for s in segments)
    return terminal_safe(plain, keep_newlines) + "\n"


def write(
    stream: IO[str],
    *segments: Segment,
    style: str | None = None,
    keep_newlines: bool = True,
) -> None:
    """One line on `stream`, every segment escaped; styled only on a colour terminal."""
    stream.write(render(stream, *segments, style=style, keep_newlines=keep_newlines))
    stream.flush()


def stdio() -> tuple[IO[str], IO[str]]:
    """The invocation's stdout and stderr."""
    env = invocation()
    return env.stdout, env.stderr


def out(*segments: Segment, style: str | None = None) -> None:
    write(invocation().stdout, *segments, style=style)


def err(*segments: Segment, style: str | None = None) -> None:
    write(invocation().stderr, *segments, style=style)


def note(text: str) -> None:
    err(Styled("note: ", "cyan"), text)


def warn(text: str) -> None:
    err(Styled("warning: ", "yellow"), text)


def warn_once(text: str) -> None:
    """A warning shown once per invocation (a risky directory, a readable key file)."""
    warned = invocation().warned
    if text not in warned:
        warned.add(text)
        warn(text)


def raw(data: bytes) -> None:
    """Bytes exactly as they are, for `--raw` (the user asked for them)."""
    stdout = invocation().stdout
    stdout.buffer.write(data)  # type: ignore[attr-defined]
    stdout.flush()


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
    """One JSON document on stdout; one NDJSON line for the commands whose stdout is a
    stream (listen, api), their final error included."""
    env = invocation()
    env.stdout.write(
        ndjson_line(document) if env.streaming else json_dumps(document, indent=2) + "\n"
    )
    env.stdout.flush()


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
    # Wrap long cells onto more lines instead (nothing is lost at any width).
    wrap: bool = False


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

    stream = stream or invocation().stdout
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
            overflow="fold" if column.wrap or not column.cut else "ellipsis",
            no_wrap=not column.wrap,
            justify=column.justify,  # type: ignore[arg-type]
            min_width=column.min_width,
        )
    for row in rows:
        grid.add_row(
            *[
                _cell(cell, 100_000 if column.wrap else max_cell)
                for cell, column in zip(row, cols, strict=True)
            ]
        )
    _print(grid, stream)


def _print(renderable: Any, stream: IO[str]) -> None:
    """Print a table; off a terminal, without the spaces Rich pads each line with (a
    log or a diff then shows the text, not the padding)."""
    shown = console(stream)
    if getattr(stream, "isatty", None) and stream.isatty():
        shown.print(renderable)
    else:
        with shown.capture() as captured:
            shown.print(renderable)
        text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
        stream.write(text)
    stream.flush()


def fields(
    pairs: Sequence[tuple[str, Segment]], stream: IO[str] | None = None, indent: int = 0
) -> None:
    """Labelled lines, `indent` columns in, each value wrapped under itself at the
    terminal's width (a report's detail block: nothing cut)."""
    from rich.padding import Padding
    from rich.table import Table

    stream = stream or invocation().stdout
    grid = Table.grid(padding=(0, 2, 0, 2))
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(label, _cell(value, 100_000))
    _print(Padding(grid, (0, 0, 0, indent)) if indent else grid, stream)


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


# ---------------------------------------------------------------- background printing


class BackgroundPrinter:
    """Writes from a thread of its own, so a command that serves requests (listen, api)
    never waits for its reader.

    `submit` takes finished text (see `render`) and returns at once. When the reader
    is too slow (`listen --json | slow-consumer`, a terminal paused with Ctrl-S) the
    queue fills and new lines are dropped; once it drains, one line on stderr says
    how many were skipped. When stdout is closed (`listen | head -n 1`) writing stops
    and the command goes on; the process then leaves quietly.

    Rendering stays with the caller and the thread only writes: a thread that
    rendered would hold the interpreter lock while the serving thread waits to
    return from every socket call. And the thread is woken only when it is idle;
    while lines keep coming it writes what gathered every `interval` seconds, in one
    call per stream: woken once per line it cost listen ~100 µs of CPU per webhook
    (measured with benchmarks/listen_throughput.py's load).
    """

    def __init__(
        self,
        env: Environment | None = None,
        max_lines: int = 10000,
        max_chars: int = 16 * 1024 * 1024,
        interval: float = 0.02,
    ) -> None:
        import collections
        import threading

        # The invocation's streams, taken now: the thread writes outside its context.
        self.env = env or invocation()
        self.stdout, self.stderr = self.env.stdout, self.env.stderr
        self._lines: collections.deque[tuple[IO[str], str]] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._max_lines = max_lines
        self._max_chars = max_chars
        self._chars = 0
        self._interval = interval
        self._idle = True
        self._stopping = False
        self.skipped = 0
        self.closed = False  # stdout went away
        self._direct: dict[int, bool] = {}
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def submit(self, stream: IO[str], text: str) -> None:
        """Queue `text` for `stream`; never blocks."""
        if self.closed and stream is self.stdout:
            return
        if self._cannot_block(stream):
            self._emit(stream, text)
            return
        with self._lock:
            if len(self._lines) >= self._max_lines or self._chars + len(text) > self._max_chars:
                self.skipped += 1
                return
            self._chars += len(text)
            self._lines.append((stream, text))
            wake, self._idle = self._idle, False
        if wake:
            self._wake.set()

    def _run(self) -> None:
        import time

        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    batch = list(self._lines)
                    self._lines.clear()
                    self._chars = 0
                    skipped, self.skipped = self.skipped, 0
                    if not batch and not skipped:
                        self._idle = True
                        stopping = self._stopping
                        break
                if skipped:
                    text = f"… {skipped} line(s) skipped: output was too slow"
                    notice = terminal_safe(text) + "\n"
                    batch.insert(0, (self.stderr, notice))
                self._write(batch)
                if not self._stopping:
                    time.sleep(self._interval)  # let the next lines gather
            if stopping:
                return

    def _cannot_block(self, stream: IO[str]) -> bool:
        """A regular file or /dev/null takes a write at once: writing it here costs
        less than the hand-over to the thread (~30 µs of CPU per webhook under load).
        Pipes, sockets and terminals can stall, so they always go through the thread."""
        known = self._direct.get(id(stream))
        if known is None:
            import stat

            try:
                mode = os.fstat(stream.fileno()).st_mode
                known = stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not stream.isatty())
            except (OSError, ValueError, AttributeError):
                known = False
            self._direct[id(stream)] = known
        return known

    def _write(self, batch: list[tuple[IO[str], str]]) -> None:
        """Consecutive lines for the same stream go out in one write."""
        start = 0
        for index in range(1, len(batch) + 1):
            if index == len(batch) or batch[index][0] is not batch[start][0]:
                self._emit(batch[start][0], "".join(text for _, text in batch[start:index]))
                start = index

    def _emit(self, stream: IO[str], text: str) -> None:
        if self.closed and stream is self.stdout:
            return
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, ValueError):
            self._gone(stream)
        except OSError as exc:
            import errno

            if exc.errno != errno.EPIPE:
                raise
            self._gone(stream)

    def _gone(self, stream: IO[str]) -> None:
        if stream is not self.stdout:
            return
        self.closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stdout.fileno())
        except (OSError, ValueError):
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (waiting at most `timeout` seconds), then stop."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self.skipped and not self.closed:
            with contextlib.suppress(OSError, ValueError):
                text = f"… {self.skipped} line(s) skipped: output was too slow"
                write(self.stderr, Styled(text, "dim"))
