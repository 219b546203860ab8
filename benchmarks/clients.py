"""Why load mode keeps aiohttp's client: HTTP clients compared at concurrency 50.

Each client POSTs the same ~650-byte body --requests times, 50 at a time, to a
bare aiohttp receiver in another process, and reads each answer whole. The
median and range of --runs runs are printed, with each client's ratio to
aiohttp's measured in the same run. The clients:

* aiohttp.ClientSession (load mode's transport);
* httpx.AsyncClient over an aiohttp transport (httpx's API, aiohttp's I/O;
  the small transport below, as packages such as httpx-aiohttp provide);
* httpx.AsyncClient with its own transport (httpcore; encode/httpx#3215);
* httpx.Client in 50 threads (the single sender's client, used concurrently).

    python benchmarks/clients.py [--requests 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time

import aiohttp
import httpx
from _common import BareReceiver, summary

CONCURRENCY = 50
BODY = b'{"from":"nango","type":"sync","padding":"' + b"x" * 600 + b'"}'
HEADERS = {"content-type": "application/json"}


async def _gather(count: int, one: object) -> float:
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            await one()  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - start)


async def aiohttp_client(url: str, count: int) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()

        return await _gather(count, one)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests carried by an aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self.session.request(
            request.method,
            str(request.url),
            data=request.content,
            headers=[(k.decode(), v.decode()) for k, v in request.headers.raw],
            allow_redirects=False,
        ) as response:
            content = await response.read()
            return httpx.Response(
                response.status, headers=list(response.headers.items()), content=content
            )


async def httpx_over_aiohttp(url: str, count: int) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        transport = AiohttpTransport(session)
        async with httpx.AsyncClient(transport=transport) as client:

            async def one() -> None:
                await client.post(url, content=BODY, headers=HEADERS)

            return await _gather(count, one)


async def httpx_async(url: str, count: int) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one() -> None:
            await client.post(url, content=BODY, headers=HEADERS)

        return await _gather(count, one)


def httpx_threads(url: str, count: int) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    remaining = iter(range(count))
    lock = threading.Lock()
    with httpx.Client(limits=limits) as client:

        def worker() -> None:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                client.post(url, content=BODY, headers=HEADERS)

        threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clients = {
        "aiohttp.ClientSession": lambda url: asyncio.run(aiohttp_client(url, args.requests)),
        "httpx.AsyncClient over an aiohttp transport": lambda url: asyncio.run(
            httpx_over_aiohttp(url, args.requests)
        ),
        "httpx.AsyncClient (httpcore)": lambda url: asyncio.run(httpx_async(url, args.requests)),
        "httpx.Client in 50 threads": lambda url: httpx_threads(url, args.requests),
    }
    rates: dict[str, list[float]] = {name: [] for name in clients}
    ratios: dict[str, list[float]] = {name: [] for name in clients}
    with BareReceiver() as receiver:
        for _ in range(args.runs):
            this_run = {name: measure(receiver.url) for name, measure in clients.items()}
            for name, rate in this_run.items():
                rates[name].append(rate)
                ratios[name].append(rate / this_run["aiohttp.ClientSession"])
    for name in clients:
        print(
            json.dumps(
                {
                    "client": name,
                    "concurrency": CONCURRENCY,
                    "requests_per_s": summary(rates[name], 0),
                    "ratio_to_aiohttp": summary(ratios[name], 2),
                }
            )
        )


if __name__ == "__main__":
    main()
