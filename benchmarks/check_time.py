"""`nango-hooks check` against a correct handler, end to end: process start to exit.

The handler is the test suite's aiohttp one (tests/handlers/aiohttp_app.py): it
verifies, fetches every page from the API `check` serves, applies deletions, answers
5xx when its fetch fails. Every check runs, `--state` included. Median of --runs.
Target (issue 26): under 2 s on 2 cores.

    python benchmarks/check_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time

from _common import ROOT, environment, summary

sys.path.insert(0, str(ROOT))

from tests.handlers.aiohttp_app import PyHandler

KEY = "bench-signing-key-0123456789abcdef"
SECRET = "bench-secret-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_run() -> float:
    port = _free_port()
    with (
        tempfile.TemporaryDirectory() as home,
        PyHandler(KEY, f"http://127.0.0.1:{port}", SECRET) as handler,
    ):
        base = handler.url.rsplit("/", 1)[0]
        env = {
            **environment(),
            "NANGO_HOOKS_HOME": home,
            "NANGO_HOOKS_SIGNING_KEY": KEY,
            "NANGO_HOOKS_SECRET_KEY": SECRET,
        }
        command = [
            sys.executable,
            "-m",
            "nango_cli",
            "check",
            handler.url,
            "--api-port",
            str(port),
            "--state",
            f"{base}/state/{{connection}}/{{model}}",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    one_run()  # warm-up
    seconds = [one_run() for _ in range(args.runs)]
    print(json.dumps({"check_seconds": summary(seconds, 3), "target_seconds": 2.0}))


if __name__ == "__main__":
    main()
