"""Binding a local server (listen, api, ui): one way to open the socket, word a
failure and name the address."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from typing import Any

from nango_cli.errors import BindError


async def bind(
    factory: Callable[[], asyncio.BaseProtocol],
    runner: Any,
    host: str,
    port: int,
    flag: str = "--port",
    **options: Any,
) -> tuple[asyncio.Server, str]:
    """Listen on host:port with `factory` making each connection's protocol; the server
    and its base URL (`http://host:port`, the port the system picked when 0). On
    failure the aiohttp `runner` is cleaned up and a BindError (exit 8) says why."""
    try:
        server = await asyncio.get_running_loop().create_server(factory, host, port, **options)
    except OSError as exc:
        await runner.cleanup()
        raise bind_error(exc, host, port, flag) from None
    bound = server.sockets[0].getsockname()[1]
    return server, f"http://{f'[{host}]' if ':' in host else host}:{bound}"


def bind_error(exc: OSError, host: str, port: int, flag: str = "--port") -> BindError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return BindError(
            f"port {port} is already in use ({where})",
            hint=f"stop what is using it, or pick another with {flag} (0 picks a free one)",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return BindError(
            f"not allowed to listen on {where}", hint=f"use a port above 1023, e.g. {flag} 3456"
        )
    return BindError(
        f"cannot listen on {where}: {exc.strerror or exc}",
        hint="check --host (127.0.0.1 is the default)",
    )
