"""Load mode throughput: `fire --count N --concurrency C` against a bare receiver, and
wrk against the same receiver with the same body and headers, for the ratio.

Each run measures load mode, then aiohttp's client alone (the same body and headers,
nothing signed or recorded: load mode's ceiling here), then wrk (the ratios are per
run); the median and range of --runs runs are printed. Targets (issue 10): >= 4,000
webhooks/s at concurrency 50, and >= 0.25x wrk (issue 31 asks 0.40x). Without wrk
(Debian: apt-get install wrk) the figures are still measured and the ratios left out.

    python benchmarks/load_throughput.py [--count 5000] [--concurrency 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import WRK_HINT, BareReceiver, environment, nango_hooks, summary


def fire_args(exe: str, url: str) -> list[str]:
    return [
        *(exe, "--json", "fire", "--sync", "github-tickets", "-i", "github"),
        *("-c", "bench-connection", "-m", "Ticket", "--url", url),
    ]


# The client load mode uses, bare: the same body and headers posted `count` times at
# the same concurrency on uvloop, nothing signed or recorded. Load mode's ceiling on
# this machine, whatever it does around the client.
BARE_CLIENT = """
import asyncio, json, sys, time
import aiohttp, uvloop

url, count, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
webhook = json.loads(sys.stdin.read())
body, headers = webhook["body"].encode(), webhook["headers"]

async def main():
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=conc),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
    ) as session:
        todo = iter(range(count))

        async def worker():
            for _ in todo:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        print(count / (time.perf_counter() - start))

uvloop.run(main())
"""


def one_webhook(args: list[str], env: dict[str, str]) -> dict[str, object]:
    dry = subprocess.run([*args, "--dry-run"], env=env, capture_output=True, text=True, check=True)
    return json.loads(dry.stdout)["data"]["webhooks"][0]  # type: ignore[no-any-return]


def bare_client_rate(url: str, webhook: dict[str, object], count: int, conc: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", BARE_CLIENT, url, str(count), str(conc)],
        input=json.dumps(webhook),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


def wrk_rate(home: Path, url: str, webhook: dict[str, Any], conc: int, secs: int) -> float:
    lua = home / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(webhook['body'])}\n"
        + "".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n"
            for k, v in webhook["headers"].items()
        )
    )
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(conc), "-d", f"{secs}s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = nango_hooks()
    has_wrk = shutil.which("wrk") is not None
    if not has_wrk:
        print(f"note: {WRK_HINT}; measuring load mode alone", file=sys.stderr)
    rates, p50s, p99s, wrks, ratios, bares, bare_ratios = [], [], [], [], [], [], []
    with BareReceiver() as receiver, tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            home = Path(tmp) / f"run{run}"
            home.mkdir()
            env = {
                **environment(),
                "NANGO_HOOKS_HOME": str(home),
                "NANGO_HOOKS_SIGNING_KEY": "bench-key-00000000000000000000",
            }
            base = fire_args(exe, receiver.url)
            fired = subprocess.run(
                [*base, "--count", str(args.count), "--concurrency", str(args.concurrency)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            load = json.loads(fired.stdout)["data"]["load"]
            assert load["delivered"] == args.count, load
            rates.append(load["throughput_per_s"])
            p50s.append(load["latency_ms"]["p50"])
            p99s.append(load["latency_ms"]["p99"])
            webhook = one_webhook(base, env)
            bare = bare_client_rate(receiver.url, webhook, args.count, args.concurrency)
            bares.append(bare)
            if has_wrk:
                wrk = wrk_rate(home, receiver.url, webhook, args.concurrency, args.seconds)
                wrks.append(wrk)
                ratios.append(load["throughput_per_s"] / wrk)
                bare_ratios.append(bare / wrk)
    result: dict[str, object] = {
        "count": args.count,
        "concurrency": args.concurrency,
        "load_mode_webhooks_per_s": summary(rates, 0),
        "latency_p50_ms": summary(p50s),
        "latency_p99_ms": summary(p99s),
    }
    result["bare_aiohttp_client_per_s"] = summary(bares, 0)
    if has_wrk:
        result["wrk_requests_per_s"] = summary(wrks, 0)
        result["ratio_to_wrk"] = summary(ratios, 2)
        result["bare_client_ratio_to_wrk"] = summary(bare_ratios, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
