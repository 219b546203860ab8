"""`listen` as a real subprocess on an ephemeral port, watched through its stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, check_envelope


@dataclass
class Listening:
    proc: subprocess.Popen[bytes]
    url: str
    err_path: Path

    def finish(self, timeout: float = 20) -> tuple[int, str, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(), self.err_path.read_text()

    def events(self, out: str) -> list[dict]:
        """The webhooks of listen's NDJSON stream: one envelope per line."""
        lines = [json.loads(line) for line in out.splitlines()]
        for line in lines:
            check_envelope(line)
        return [line["data"] for line in lines if line.get("event") == "webhook"]


@contextmanager
def listening(
    *args: str,
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Listening]:
    """Start `listen --port 0 ARGS`; stderr goes to a file, watched for the ready line."""
    with serving(
        "listen", "Listening on", *args, env=env, stdout=stdout, preexec_fn=preexec_fn
    ) as lst:
        yield lst


@contextmanager
def serving(
    command: str,
    ready: str,
    *args: str,
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Listening]:
    """Start `COMMAND --port 0 ARGS` (listen, api, ui) and wait for its `ready` line."""
    err_path = Path(os.environ["NANGO_HOOKS_HOME"]).parent / f"{command}-{time.monotonic_ns()}.err"
    with err_path.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nango_cli", command, "--port", "0", *args],
            stdout=stdout,
            stderr=err_file,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,
        )
    deadline = time.monotonic() + 20
    while ready not in err_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{command} did not start: {err_path.read_text()}")
        time.sleep(0.02)
    url = err_path.read_text().split(ready + " ")[1].split()[0]
    try:
        yield Listening(proc, url, err_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


class InProcess:
    """The Listener in a thread of this process (nango_cli.servers.threaded), for tests
    that need its store or its events directly (`options` are ListenOptions fields)."""

    def __init__(self, store: Any, **options: Any) -> None:
        from nango_cli.servers.listener.server import ListenOptions

        options.setdefault("port", 0)
        self.options = ListenOptions(**options)
        self.store = store
        self.events: list[Any] = []
        self.url = ""
        self.port = 0
        self.summary: Any = None

    def __enter__(self) -> InProcess:
        from nango_cli.servers.listener.server import Listener
        from nango_cli.servers.threaded import ServerThread

        self.listener = Listener(self.options, self.store, self.events.append)
        self.thread = ServerThread(self.listener).start()
        self.url = self.thread.url
        self.port = self.listener.bound_port
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.stop("stopped")
        self.summary = self.thread.result

    def notices(self, kind: str | None = None) -> list[Any]:
        from nango_cli.servers.skeleton import Notice

        return [e for e in self.events if isinstance(e, Notice) and kind in (None, e.kind)]
