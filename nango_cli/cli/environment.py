"""The environment one invocation of the CLI runs in, passed in rather than read from
module globals (httpie's `Environment` is the model).

It holds the streams and whether each is a terminal, the raw arguments, the
directories the state lives in (`support.paths.Directories`), whether the output is
JSON (one document, or an NDJSON stream for `listen` and `api`), what has been warned
about already, and whether the process leaves with `os._exit` when the
command is done (then the store is not closed one connection at a time; see
`Database.close`). `nango_cli.__main__` makes one for the real process; tests make
their own with string streams. The running invocation's environment is reachable with
`invocation()`: the root command sets it for the duration of one invocation, so nothing
lingers from one run to the next (as `CliRunner` runs in one process).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO

from nango_cli.support.paths import Directories

JSON_ENV = "NANGO_HOOKS_JSON"


@dataclass
class Environment:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    argv: tuple[str, ...] = ()
    # Where the config file and the data are (NANGO_HOOKS_HOME; a test passes its own).
    directories: Directories = field(default_factory=Directories.from_os)
    # --json anywhere on the command line, or NANGO_HOOKS_JSON.
    json: bool = False
    # The command's stdout is a stream (listen, api): each document is one NDJSON line.
    streaming: bool = False
    # The process leaves with os._exit after the command (the real CLI, not tests).
    fast_exit: bool = False
    warned: set[str] = field(default_factory=set)

    @classmethod
    def for_process(cls, argv: list[str] | None = None, fast_exit: bool = False) -> Environment:
        args = tuple(sys.argv[1:] if argv is None else argv)
        return cls(argv=args, json="--json" in args or json_from_env(), fast_exit=fast_exit)

    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin)

    def colour(self, stream: IO[str]) -> bool:
        """Colour on `stream`: a terminal, unless NO_COLOR (or TERM=dumb); FORCE_COLOR
        turns it on anywhere."""
        if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
            return False
        if os.environ.get("FORCE_COLOR"):
            return True
        return _isatty(stream)


def json_from_env() -> bool:
    return os.environ.get(JSON_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


_current: ContextVar[Environment | None] = ContextVar("nango_hooks_environment", default=None)


def invocation() -> Environment:
    """The environment of the invocation running now (a default one outside of any)."""
    found = _current.get()
    if found is None:
        found = Environment()
        _current.set(found)
    return found


@contextmanager
def using(environment: Environment) -> Iterator[Environment]:
    """Make `environment` the current one for the duration of the block."""
    token = _current.set(environment)
    try:
        yield environment
    finally:
        _current.reset(token)
