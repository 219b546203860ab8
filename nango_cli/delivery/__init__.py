"""Putting webhooks on the wire: the attempt contract, retry policies and the circuit
breaker, the senders (httpx, aiohttp, a mock) behind one `Sender` protocol, and the
outbox that records every webhook before it is sent."""

import sys

# httpx imports its own command-line client (httpx._main: click, pygments and Rich)
# whenever click is importable, which uvicorn (the `mcp` extra's) makes it: about
# 0.2 s more on every `fire`. A None entry makes that import fail and httpx fall back
# to a stub `main` this tool never calls. Here, before delivery/httpx_sender.py
# imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
