"""The local API under a handler's load, and the records `fire` writes for it.

1. Writing: `fire --sync … --added 10000` makes and stores 10,000 records from the
   compiled fixture's schema; the time of that write (median of --runs), into an
   empty store and into one holding 100,000 records. Target (issue 13): <= 1 s.
2. Reading: with 100,000 records stored for one model, wrk (1 thread, 10
   connections) asks `nango-hooks api` for GET /records?limit=100 with a cursor,
   each request a different page. Pages/s and latency p50/p99, median of --runs
   runs. Target: >= 1,500 pages/s, p50 <= 5 ms. Needs wrk (apt-get install wrk);
   without it a Python client (httpx, 10 threads) stands in and the figures are
   lower, as it shares the two cores.

    python benchmarks/api_records.py [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, WRK_HINT, environment, start_server, summary

sys.path.insert(0, str(ROOT))

from nango_cli.app import project
from nango_cli.protocol.fakedata import Generator
from nango_cli.storage import connections, record_pages, records
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp

FIXTURE = ROOT / "tests" / "fixtures" / "compiled"
MODEL = "GithubIssue"
SECRET = "bench-secret-key-0000000000000000"


def generators() -> dict[str, Generator]:
    found = project.discover(str(FIXTURE))
    return {name: Generator(name, schema, found.models) for name, schema in found.models.items()}


def change(added: int, connection: str = "c1") -> records.Change:
    return records.Change(connection, "github-app", MODEL, "base", added, 0, 0, now_timestamp())


def write_times(runs: int, preload: int) -> list[float]:
    gens = generators()
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            store = Store(Path(home) / "history.sqlite3")
            if preload:
                records.apply_changes(store, [change(preload, "other")], gens)
            started = time.perf_counter()
            records.apply_changes(store, [change(10_000)], gens)
            times.append(time.perf_counter() - started)
            store.close()
    return times


def start_api(home: Path, loop: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **environment(),
        "NANGO_HOOKS_HOME": str(home),
        "NANGO_HOOKS_SECRET_KEY": SECRET,
        "NANGO_HOOKS_EVENT_LOOP": loop,
    }
    return start_server(["api", "--port", "0", "--json"], "Nango API on", home, env)


def cursors(store: Store, count: int) -> list[str]:
    """The cursors of `count` pages spread over the 100,000 records."""
    found = []
    after = 0
    while len(found) < count:
        page = record_pages.records_page(
            store, "c1", "github-app", MODEL, after_seq=after, limit=100
        )
        if page.next_cursor is None:
            after = 0
            continue
        found.append(page.next_cursor)
        after = record_pages.decode_cursor(page.next_cursor) or 0
    return found


LUA = """
cursors = {%s}
counter = 0
request = function()
  counter = counter + 1
  local cursor = cursors[(counter %% #cursors) + 1]
  return wrk.format("GET", "/records?model=%s&limit=100&cursor=" .. cursor, {
    ["Authorization"] = "Bearer %s",
    ["Connection-Id"] = "c1",
    ["Provider-Config-Key"] = "github-app",
  })
end
"""


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def read_with_wrk(url: str, lua: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", "10", "-d", f"{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} requests failed:\n{out}")
    return {"pages_per_s": rate, "p50_ms": p50, "p99_ms": p99}


def read_with_python(url: str, pages: list[str], seconds: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        headers = {
            "Authorization": f"Bearer {SECRET}",
            "Connection-Id": "c1",
            "Provider-Config-Key": "github-app",
        }
        with httpx.Client(headers=headers) as client:
            n = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                reply = client.get(
                    f"{url}/records",
                    params={"model": MODEL, "limit": 100, "cursor": pages[n % len(pages)]},
                )
                reply.raise_for_status()
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                n += 1

    threads = [threading.Thread(target=worker, args=(i * 97,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "pages_per_s": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    empty = write_times(args.runs, 0)
    loaded = write_times(args.runs, 100_000)
    print(
        json.dumps(
            {
                "write_10000_records_s": {
                    "empty_store": summary(empty, 3),
                    "store_with_100000": summary(loaded, 3),
                }
            }
        )
    )

    wrk = shutil.which("wrk")
    if wrk is None:
        print(f"note: {WRK_HINT}; a Python client stands in (lower figures)", file=sys.stderr)
    # Both event loops, interleaved run by run, so their ratio comes from one session.
    loops = ("uvloop", "asyncio")
    runs: dict[str, list[dict[str, float]]] = {loop: [] for loop in loops}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        store = Store(home / "data" / "history.sqlite3")
        connections.ensure_connection(store, "c1", "github-app")
        records.apply_changes(store, [change(100_000)], generators())
        pages = cursors(store, 500)
        store.close()
        lua = home / "pages.lua"
        lua.write_text(LUA % (", ".join(f'"{c}"' for c in pages), MODEL, SECRET))
        for _ in range(args.runs):
            for loop in loops:
                proc, url = start_api(home, loop)
                try:
                    if wrk:
                        runs[loop].append(read_with_wrk(url, lua, args.seconds))
                    else:
                        runs[loop].append(read_with_python(url, pages, args.seconds))
                finally:
                    proc.send_signal(2)
                    proc.wait(30)
    medians = {loop: statistics.median(r["pages_per_s"] for r in runs[loop]) for loop in loops}
    for loop in loops:
        print(
            json.dumps(
                {
                    "records_stored": 100_000,
                    "connections": 10,
                    "event_loop": loop,
                    "generator": "wrk" if wrk else "python",
                    "pages_per_s": summary([r["pages_per_s"] for r in runs[loop]], 0),
                    "p50_ms": summary([r["p50_ms"] for r in runs[loop]], 2),
                    "p99_ms": summary([r["p99_ms"] for r in runs[loop]], 2),
                }
            )
        )
    print(json.dumps({"uvloop_over_asyncio": round(medians["uvloop"] / medians["asyncio"], 2)}))


if __name__ == "__main__":
    main()
