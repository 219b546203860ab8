from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nango_cli.support.paths import Directories
from tests.receiver import Receiver

KEY = "4b0f5b1e-7c1a-4a4e-9d7e-5f8f1c2a9b3d"


def check_envelope(document: Any) -> None:
    """Every --json document is {"ok": true, "data": …} or {"ok": false, "error": …}."""
    assert isinstance(document, dict) and isinstance(document.get("ok"), bool), document
    if document["ok"]:
        assert "data" in document and "error" not in document, document
    else:
        error = document.get("error")
        assert isinstance(error, dict), document
        assert set(error) == {"kind", "message", "hint", "exit_code"}, error
        assert isinstance(error["message"], str) and isinstance(error["exit_code"], int)


def jdata(text: str) -> Any:
    """The data of a successful --json document (the envelope checked on the way)."""
    document = json.loads(text)
    check_envelope(document)
    assert document["ok"] is True, document
    return document["data"]


def jpayload(text: str) -> Any:
    """The data of a --json document, successful or not (a failure may carry what was
    done before it failed, such as a check report)."""
    document = json.loads(text)
    check_envelope(document)
    return document.get("data")


def jerror(text: str) -> dict[str, Any]:
    """The error of a failed --json document (the envelope checked on the way)."""
    document = json.loads(text)
    check_envelope(document)
    assert document["ok"] is False, document
    error: dict[str, Any] = document["error"]
    return error


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NANGO_HOOKS_HOME and no inherited NANGO_HOOKS_* variables,
    nor a terminal size from outside (pytest-xdist's workers have COLUMNS=80). The
    variable is how the processes a test starts find their state (the CLI's own
    interface); code in this process is given `directories` instead."""
    for name in list(os.environ):
        if name.startswith("NANGO_HOOKS_") or name in (
            "NO_COLOR",
            "FORCE_COLOR",
            "COLUMNS",
            "LINES",
        ):
            monkeypatch.delenv(name)
    hooks_home = tmp_path / "home"
    monkeypatch.setenv("NANGO_HOOKS_HOME", str(hooks_home))
    return hooks_home


@pytest.fixture
def directories(home: Path) -> Directories:
    """The test's state directories, passed to what runs in this process."""
    return Directories.under(home)


class Cli:
    """Runs the real app in-process (CliRunner), stdout and stderr kept apart, its state
    in `directories` (passed in, as the environment's)."""

    def __init__(self, directories: Directories) -> None:
        self.runner = CliRunner()
        self.directories = directories

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        from nango_cli.cli import app

        return self.runner.invoke(
            app,
            list(args),
            input=input,
            env=env,
            prog_name="nango-hooks",
            directories=self.directories,
        )


@pytest.fixture
def cli(directories: Directories) -> Cli:
    return Cli(directories)


def run(
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Runs `python -m nango_cli` as a real subprocess with the test's environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nango_cli", *args],
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def configured(cli: Cli, receiver: Receiver) -> Receiver:
    """A dev environment pointing at a live receiver, with a signing key, and the syncs
    the tests fire described in the config (an unknown sync is an error)."""
    assert cli("config", "set-url", receiver.url).exit_code == 0
    assert cli("config", "set-key", KEY).exit_code == 0
    define_syncs(cli)
    return receiver


# The syncs tests fire: name -> (integration, model).
TEST_SYNCS = {
    "s": ("s", "S"),
    "t": ("t", "T"),
    "other": ("other", "Other"),
    "evil": ("evil", "Evil"),
    "github-tickets": ("github", "Ticket"),
}


def define_syncs(cli: Cli) -> None:
    for name, (integration, model) in TEST_SYNCS.items():
        assert cli("config", "set-sync", name, "-i", integration, "-m", model).exit_code == 0


@pytest.fixture(scope="session")
def nango_node() -> Path:
    """Nango's Node.js SDK and types 0.71.10 (tests/nango_node.py)."""
    from tests import nango_node as packages

    return packages.install()


# ---------------------------------------------------------------- a real browser

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError(
            "these tests drive a real Chromium: apt-get install chromium (.ci/run does)"
        )
    return found


# Module-scoped: Playwright's sync API keeps an event loop running in the main thread
# while a browser is open, which later tests' asyncio.run() would trip over.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors
    yield opened
    context.close()
