"""Entry point: `nango-hooks` and `python -m nango_cli`."""

from __future__ import annotations

import sys


def main() -> None:
    from nango_cli.cli import app

    try:
        app(prog_name="nango-hooks")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
