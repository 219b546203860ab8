"""What runs on this machine: the address of the `listen`, `api` and `ui` started last.

Each server writes its URL (0600, in the data directory) while it runs and
removes it when it stops: `fire --to-listener` finds the listener this way,
`check` the API a handler fetches from. A server killed without cleaning up
leaves a file whose process is gone: it is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from nango_cli.support import files
from nango_cli.support.processes import pid_alive

Kind = Literal["listener", "api", "ui"]


def _path(directory: Path, kind: Kind) -> Path:
    return directory / f"{kind}.json"


def announce(directory: Path, kind: Kind, url: str, env: str, **extra: Any) -> None:
    """Write the address (0600) into `directory`, the invocation's data directory."""
    files.ensure_state_dir(directory)
    record = {"url": url, "env": env, "pid": os.getpid(), **extra}
    files.atomic_write(_path(directory, kind), json.dumps(record).encode())


def withdraw(directory: Path, kind: Kind) -> None:
    """Remove the address if it is this process's."""
    found = _read(directory, kind)
    if found is not None and found.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            _path(directory, kind).unlink()


def running(directory: Path, kind: Kind) -> dict[str, Any] | None:
    """The running server's record (url, env, pid, …), or None when none runs."""
    found = _read(directory, kind)
    if found is None or not isinstance(found.get("url"), str):
        return None
    pid = found.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return found


def _read(directory: Path, kind: Kind) -> dict[str, Any] | None:
    try:
        data = json.loads(_path(directory, kind).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
