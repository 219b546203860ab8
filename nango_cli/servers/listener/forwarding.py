"""`listen --forward-to`: each webhook proxied unchanged (body and signature headers)
to the app with the httpx sender, in a worker thread; the app's whole answer (up to
the body cap) goes back to the sender."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP
from nango_cli.protocol.headers import HOP_BY_HOP
from nango_cli.servers.listener.events import ForwardResult

Reply = tuple[int, bytes, dict[str, str]]


class Forwarder:
    def __init__(self, url: str, timeout: float, max_body: int) -> None:
        self.url = url
        self.timeout = timeout
        self.cap = max(max_body, RESPONSE_BODY_CAP)
        self._sender: Any = None
        self._executor: ThreadPoolExecutor | None = None

    async def forward(self, body: bytes, headers: dict[str, str]) -> tuple[ForwardResult, Reply]:
        """One attempt at the app (no retries: the sender retries), and what to answer."""
        if self._sender is None:
            from nango_cli.delivery.httpx_sender import HttpxSender

            self._sender = HttpxSender()
            self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="forward")
        out_headers = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        attempt = await asyncio.get_running_loop().run_in_executor(
            self._executor,
            partial(self._sender.send, self.url, body, out_headers, self.timeout, self.cap),
        )
        result = ForwardResult(self.url, attempt)
        if attempt.status_code is None:
            reply = json.dumps({"error": f"app unreachable: {result.error}"}).encode()
            return result, (502, reply, {"Content-Type": "application/json"})
        if attempt.response_truncated:
            text = json.dumps({"error": f"the app's answer is larger than {self.cap} bytes"})
            return result, (502, text.encode(), {"Content-Type": "application/json"})
        relayed = {
            k: v
            for k, v in attempt.response_headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")
        }
        return result, (attempt.status_code, attempt.response_body, relayed)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
