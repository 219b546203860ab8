"""Start-up and a single fire, as ratios to bare imports measured in the same run.

Each command runs --runs times after one warm-up; the median and range are
printed. Targets (issue 18, tighter than issue 10's): `nango-hooks --help`
<= 1.1x `python -c "import typer"`; one `fire` to a local receiver, process
start to exit, <= 1.4x `python -c "import typer, httpx"` (issue 31 asks 1.2x).
Also timed: that floor plus the modules a fire cannot do without (httpcore, which
httpx sends through; sqlite3, tomllib, hmac), as a ratio to it.

httpx is imported as nango-hooks imports it, without its own command-line client
(which it loads whenever click is importable).

nango-hooks leaves with os._exit once everything is flushed (docs/performance.md),
which skips the interpreter teardown a bare `python -c` pays; so fire is also
compared with `import typer, httpx` that exits the same way, the stricter ratio.

    python benchmarks/startup.py [--runs 31]
"""

from __future__ import annotations

import argparse
import http.server
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import environment, nango_hooks, summary


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def timings(cases: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Wall times in ms, the cases interleaved round by round so that drift in the
    machine's speed (shared cores) affects every case alike."""
    measured: dict[str, list[float]] = {name: [] for name in cases}
    for command in cases.values():
        subprocess.run(command, env=env, capture_output=True, check=False)  # warm-up
    for _ in range(runs):
        for name, command in cases.items():
            start = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=False)
            measured[name].append((time.perf_counter() - start) * 1000)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    exe = nango_hooks()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    py = sys.executable
    # httpx imports its own command-line client (click, Rich) when click is importable
    # (the `mcp` extra makes it so); nango-hooks keeps it out (nango_cli/delivery/
    # __init__.py). The floor imports httpx the same way, or it would flatter fire.
    no_cli = "import sys; sys.modules['httpx._main'] = None; "
    cases = {
        "import typer": [py, "-c", "import typer"],
        "import typer, httpx": [py, "-c", no_cli + "import typer, httpx"],
        "import typer, httpx (os._exit)": [
            py,
            "-c",
            no_cli + "import typer, httpx, os; os._exit(0)",
        ],
        # What one fire cannot do without, whoever wrote it: httpx sends through
        # httpcore (which `import httpx` leaves out since httpx 0.28), the history is
        # SQLite, the config TOML, the signature HMAC. (platformdirs too, when
        # NANGO_HOOKS_HOME is unset; it is set here, and fire does not load it.)
        "import typer, httpx + what fire must load": [
            py,
            "-c",
            no_cli + "import typer, httpx, httpcore, sqlite3, tomllib, hmac",
        ],
        "nango-hooks --help": [exe, "--help"],
        "nango-hooks config get url": [exe, "config", "get", "url"],
        "nango-hooks fire (one webhook, local receiver)": [
            *(exe, "fire", "--sync", "github-tickets", "-i", "github", "-m", "Ticket"),
        ],
    }
    with tempfile.TemporaryDirectory() as home:
        env = {
            **environment(),
            "NANGO_HOOKS_HOME": home,
            "NANGO_HOOKS_SIGNING_KEY": "bench-key-000000000000",
        }
        Path(home, "config.toml").write_text(f'[environments.dev]\nurl = "{url}"\n')
        medians = {}
        for name, measured in timings(cases, env, args.runs).items():
            stats = summary(measured)
            medians[name] = float(stats["median"])  # type: ignore[arg-type]
            print(json.dumps({"case": name, "ms": stats}))
    server.shutdown()
    ratios = {
        "--help / import typer": medians["nango-hooks --help"] / medians["import typer"],
        "config get / import typer": medians["nango-hooks config get url"]
        / medians["import typer"],
        "fire / import typer, httpx": medians["nango-hooks fire (one webhook, local receiver)"]
        / medians["import typer, httpx"],
        "import typer, httpx + what fire must load / import typer, httpx": medians[
            "import typer, httpx + what fire must load"
        ]
        / medians["import typer, httpx"],
        "fire / import typer, httpx (os._exit)": medians[
            "nango-hooks fire (one webhook, local receiver)"
        ]
        / medians["import typer, httpx (os._exit)"],
    }
    print(json.dumps({"ratios_of_medians": {k: round(v, 2) for k, v in ratios.items()}}))


if __name__ == "__main__":
    main()
