"""What runs on this machine: the address of the `listen` started last.

`listen` writes its URL (0600, in the state directory) while it runs and
removes it when it stops; `fire --to-listener` reads it, so firing at the
listener needs no URL typed out. A listener killed without cleaning up leaves
a file whose process is gone: it is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from nango_cli import files, paths
from nango_cli.processes import pid_alive

FILENAME = "listener.json"


def _path() -> Path:
    return paths.data_dir() / FILENAME


def announce(url: str, env: str) -> None:
    directory = paths.data_dir()
    files.ensure_state_dir(directory)
    record = {"url": url, "env": env, "pid": os.getpid()}
    files.atomic_write(_path(), json.dumps(record).encode())


def withdraw() -> None:
    """Remove the address if it is this process's."""
    found = _read()
    if found is not None and found.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            _path().unlink()


def listener() -> dict[str, Any] | None:
    """The running listener's record (url, env, pid), or None when none runs."""
    found = _read()
    if found is None or not isinstance(found.get("url"), str):
        return None
    pid = found.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return found


def _read() -> dict[str, Any] | None:
    try:
        data = json.loads(_path().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
