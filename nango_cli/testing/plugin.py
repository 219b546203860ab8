"""The pytest plugin (entry point `pytest11`, name `nango_hooks`): active wherever
nango-hooks is installed, no conftest needed. docs/testing.md has a worked example.

Fixtures:

- `nango`: a `nango_cli.testkit.NangoKit` for one test: signed webhooks
  (`nango.sync()`, `.auth()`, `.forward()`, `.async_action()`) whose records the API
  stand-in then serves (`nango.api.url`, started on first use), `nango.records()`,
  `nango.send()`; its own signing key and secret key; state in the test's `tmp_path`.
- `nango_listener`: a listener in this process (`.url`, `.received`, `.wait_for(n)`)
  verifying with `nango.signing_key`, for code that sends webhooks onwards.

The project's syncs and models are found as the CLI finds them, from the `nango_project`
ini option (a nango.yaml, a compiled nango.json, or a directory holding one), else
from the rootdir. Importing this module costs nothing else: the kit is loaded by the
first test that asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from nango_cli.testing import RunningListener
    from nango_cli.testing.kit import NangoKit


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "nango_project",
        "The Nango project for the `nango` fixture (nango.yaml, .nango/nango.json, or a "
        "directory holding one). Default: found from the rootdir, as the CLI finds it.",
        default=None,
    )


@pytest.fixture
def nango(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NangoKit]:
    """Signed Nango webhooks and the Nango API, for this test (docs/testing.md)."""
    from nango_cli.testing.kit import NangoKit

    configured = request.config.getini("nango_project")
    rootdir = Path(str(request.config.rootpath))
    project = rootdir / str(configured) if configured else None
    with NangoKit(tmp_path / "nango-hooks", project=project, rootdir=rootdir) as kit:
        yield kit


@pytest.fixture
def nango_listener(nango: NangoKit) -> Iterator[RunningListener]:
    """A listener on a free loopback port that verifies with `nango.signing_key`."""
    from nango_cli.testing import running_listener

    with running_listener(signing_key=nango.signing_key, store=nango.store) as listener:
        yield listener


def pytest_report_header(config: pytest.Config) -> Any:
    configured = config.getini("nango_project")
    return f"nango-hooks: project {configured}" if configured else None
