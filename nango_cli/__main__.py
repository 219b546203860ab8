"""Entry point: `nango-hooks` and `python -m nango_cli`."""

from __future__ import annotations

import os
import sys


def main() -> None:
    try:
        # Imported inside: a Ctrl-C while they load (a tenth of a second or more on a
        # busy machine) is an interruption like any other, not a traceback.
        from nango_cli.cli import app
        from nango_cli.cli.environment import Environment

        # This process leaves with os._exit once the command is done (see `leave`).
        app(prog_name="nango-hooks", environment=Environment.for_process(fast_exit=True))
    except SystemExit as exc:
        leave(exit_code(exc))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        leave(130)
    except BrokenPipeError:
        leave(141)
    leave(0)


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


def leave(code: int) -> None:
    """Flush what was written and exit without tearing the interpreter down.

    Everything the command owns is closed by then (the store by its `with`
    block, worker threads joined). Freeing every loaded module's objects one by
    one at exit cost a whole `fire` 20-45 ms on the project's machine
    (docs/performance.md), a fifth of the run, for nothing the OS will not do at once.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # The reader is gone (`| head`): nothing more can be said; as git does.
            code = code or 141
    os._exit(code)


if __name__ == "__main__":
    main()
