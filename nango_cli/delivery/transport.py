"""What every sender shares: the `Sender` protocols, which proxy a URL goes through,
and the TLS context for https targets.

The senders themselves live one per module, one contract (delivery/attempts.py):
`httpx_sender` for every single-webhook request, `aiohttp_sender` for load mode,
`mock` for tests without sockets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import urlsplit

from nango_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    import ssl

    from nango_cli.delivery.history_rows import AttemptRecord


class Sender(Protocol):
    """Sends one attempt: POSTs `body` to `url` (following redirects as axios does)
    within `timeout` seconds in all, and says what happened. Only transport failures
    become failed attempts; anything else is raised."""

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AttemptRecord: ...

    def close(self) -> None: ...


class TLSOptions(NamedTuple):
    """How https targets are verified: the system/certifi bundle (SSL_CERT_FILE and
    SSL_CERT_DIR honoured), a CA file of the user's (`--ca-cert`), or not at all
    (`--insecure`)."""

    ca_cert: str | None = None
    insecure: bool = False


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str) -> str | None:
    """The proxy URL a request to `url` goes through, from HTTPS_PROXY / HTTP_PROXY /
    ALL_PROXY and NO_PROXY (either case) as curl and httpx read them; never for a
    loopback target, so a corporate proxy setting cannot swallow local tests."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if is_loopback_host(host):
        return None
    proxy = _env(f"{parts.scheme}_proxy") or _env("all_proxy")
    if not proxy or _bypassed(host, parts.port, _env("no_proxy") or ""):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    proxy_parts = urlsplit(proxy)
    if proxy_parts.scheme not in ("http", "https") or not proxy_parts.hostname:
        raise ConfigError(
            f"the {parts.scheme.upper()}_PROXY environment variable is not an http(s) proxy URL",
            hint="set it to e.g. http://proxy.example:3128, or unset it",
        )
    return proxy


def _env(name: str) -> str | None:
    """An environment variable, lower-case spelling first (as curl reads them)."""
    return os.environ.get(name) or os.environ.get(name.upper()) or None


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY exempts `host`: `*`, a domain (`example.com` also matches its
    subdomains; a leading dot is ignored), an IP, a CIDR block, or `host:port`."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
        import ipaddress

        try:
            if ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            pass
    return False


def ssl_context(options: TLSOptions) -> ssl.SSLContext:
    """The TLS context for https targets; built only when one is contacted."""
    import ssl

    if options.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if options.ca_cert:
        try:
            return ssl.create_default_context(cafile=options.ca_cert)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"--ca-cert {options.ca_cert!r} is not a readable PEM certificate ({exc})",
                hint="pass the CA certificate that signed the server's certificate "
                "(for mkcert: $(mkcert -CAROOT)/rootCA.pem)",
            ) from None
    # What httpx does by default: SSL_CERT_FILE / SSL_CERT_DIR when set, else the
    # certifi bundle httpx depends on. Built here, so the load sender gets the same
    # trust without importing httpx.
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
