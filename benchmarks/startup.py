"""Start-up and single-fire timings as ratios to `python -c "import typer"`.

Each command runs --runs times (after one warm-up); the median wall time is
reported. The fire case posts one webhook to a local receiver started here.

    python benchmarks/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, env=env, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    exe = shutil.which("nango-hooks")
    if exe is None:
        sys.exit("nango-hooks is not installed in this environment (pip install -e .)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "NANGO_HOOKS_HOME": home,
            "NANGO_HOOKS_URL": url,
            "NANGO_HOOKS_SIGNING_KEY": "bench-key-000000000000",
        }
        Path(home, "config.toml").write_text(f'[environments.dev]\nurl = "{url}"\n')
        base = median_ms([sys.executable, "-c", "import typer"], env, args.runs)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "nango-hooks --help": [exe, "--help"],
            "nango-hooks config get url": [exe, "config", "get", "url"],
            "nango-hooks fire (one webhook, local receiver)": [
                exe,
                "fire",
                "--sync",
                "github-tickets",
                "-i",
                "github",
                "-m",
                "Ticket",
            ],
        }
        print(
            json.dumps(
                {"case": 'python -c "import typer"', "median_ms": round(base, 1), "ratio": 1.0}
            )
        )
        for name, command in cases.items():
            ms = median_ms(command, env, args.runs)
            print(
                json.dumps({"case": name, "median_ms": round(ms, 1), "ratio": round(ms / base, 2)})
            )
    server.shutdown()


if __name__ == "__main__":
    main()
