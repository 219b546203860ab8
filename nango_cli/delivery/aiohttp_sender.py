"""Load mode's transport: aiohttp's client, under the attempt loop every sender shares.

Kept for load because httpx measurably cannot carry it here (docs/dependencies.md:
at concurrency 50 aiohttp's client sends several times what httpx's async client
does). Everything that decides what an attempt is lives in
delivery/attempts.py and is shared with the httpx sender: the headers on the
wire, the redirect rules, the total deadline, the capped read and the error
classes. Connections are kept alive between webhooks (see nango.CONNECTION).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import aiohttp

from nango_cli.delivery.attempts import (
    Answer,
    BodyCap,
    Failure,
    Outgoing,
    attempt_loop,
    classify_os_error,
    drive_async,
    followed,
    headers_dict,
    read_capped_async,
)
from nango_cli.delivery.history_rows import RESPONSE_BODY_CAP, AttemptRecord, ErrorClass
from nango_cli.delivery.transport import TLSOptions, proxy_for, ssl_context

# aiohttp adds these unless told not to; the contract's headers say what goes out.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class AiohttpSender:
    """One session for a whole load run: connections are reused between webhooks."""

    def __init__(self, concurrency: int, tls: TLSOptions | None = None) -> None:
        self.tls = tls or TLSOptions()
        self._ssl: ssl.SSLContext | None = None
        # Where each URL goes through: decided once per run (the environment is fixed).
        self._proxies: dict[str, str | None] = {}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, force_close=False),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            # Nango's client keeps no cookies: a webhook carries the contract's headers
            # only, whatever an earlier answer set (and the jar's work per request is
            # saved).
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        await self.session.close()

    def _proxy_for(self, url: str) -> str | None:
        if url not in self._proxies:
            self._proxies[url] = proxy_for(url)
        return self._proxies[url]

    def _ssl_for(self, url: str) -> ssl.SSLContext | bool:
        if not url.startswith("https:"):
            return False
        if self._ssl is None:
            self._ssl = ssl_context(self.tls)
        return self._ssl

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
        response_cap: int = RESPONSE_BODY_CAP,
        method: str = "POST",
    ) -> AttemptRecord:
        """One attempt within `timeout` seconds in all, run by the shared attempt loop;
        this sender makes each request of it."""

        async def exchange(request: Outgoing) -> Answer | Failure:
            try:
                async with self.session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=request.headers,
                    allow_redirects=False,
                    proxy=self._proxy_for(request.url),
                    ssl=self._ssl_for(request.url),
                ) as response:
                    found = headers_dict(response.headers.items())
                    cap = BodyCap(response_cap)
                    if not followed(response.status, found):
                        await read_capped_async(response.content.iter_any(), cap)
                    return Answer(response.status, found, cap)
            except (aiohttp.ClientError, OSError) as exc:
                return Failure(*classify(exc, timeout))

        return await drive_async(attempt_loop(url, method, headers, body), exchange, timeout)


def classify(exc: BaseException, timeout: float) -> tuple[ErrorClass, str]:
    """The same error classes as the httpx sender's, for aiohttp's exceptions."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout", f"no complete response within {timeout:g}s"
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return "proxy", f"the proxy refused the request ({exc})"
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "url", f"cannot send to that URL ({exc})"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "tls", f"TLS certificate not trusted ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        found = classify_os_error(exc.os_error)
        if found is not None:
            return found
    found = classify_os_error(exc)
    if found is not None:
        return found
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "reset", "connection closed before a complete response"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "protocol", f"invalid HTTP response ({exc.message})"
    return "network", str(exc) or type(exc).__name__
