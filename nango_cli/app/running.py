"""What runs on this machine: the address of the `listen`, `api` and `ui` started last.

Each server writes its URL (0600, in the state directory) while it runs and
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

from nango_cli.support import files, paths
from nango_cli.support.processes import pid_alive

Kind = Literal["listener", "api", "ui"]


def _path(kind: Kind) -> Path:
    return paths.data_dir() / f"{kind}.json"


def announce(kind: Kind, url: str, env: str, **extra: Any) -> None:
    directory = paths.data_dir()
    files.ensure_state_dir(directory)
    record = {"url": url, "env": env, "pid": os.getpid(), **extra}
    files.atomic_write(_path(kind), json.dumps(record).encode())


def withdraw(kind: Kind) -> None:
    """Remove the address if it is this process's."""
    found = _read(kind)
    if found is not None and found.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            _path(kind).unlink()


def running(kind: Kind) -> dict[str, Any] | None:
    """The running server's record (url, env, pid, …), or None when none runs."""
    found = _read(kind)
    if found is None or not isinstance(found.get("url"), str):
        return None
    pid = found.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return found


def _read(kind: Kind) -> dict[str, Any] | None:
    try:
        data = json.loads(_path(kind).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
