"""nango-hooks in a test suite (the user's and its own), one package:

- `nango_cli.testing` (servers.py): nango-hooks' servers in this process, for a test
  (`running_listener`, `running_api`, `running_inspector`);
- `nango_cli.testing.kit` (also `nango_cli.testkit`): `NangoKit`, what the `nango`
  pytest fixture gives, a `with` block without pytest;
- `nango_cli.testing.plugin`: the pytest plugin (entry point `pytest11`).

Importing this package loads none of them: the plugin is imported by every pytest
run, and the servers load aiohttp. The names below are loaded on first use.
"""

from __future__ import annotations

import typing as _typing

if _typing.TYPE_CHECKING:
    from nango_cli.testing.servers import (
        RunningApi,
        RunningInspector,
        RunningListener,
        running_api,
        running_inspector,
        running_listener,
    )

__all__ = [
    "RunningApi",
    "RunningInspector",
    "RunningListener",
    "running_api",
    "running_inspector",
    "running_listener",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        from nango_cli.testing import servers

        return getattr(servers, name)
    raise AttributeError(f"module 'nango_cli.testing' has no attribute {name!r}")
