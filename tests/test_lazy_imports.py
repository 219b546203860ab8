"""Start-up discipline: plain commands do not import heavy modules they do not use.

Not a timing test (benchmarks/startup.py measures time); this fails when an
import creeps onto the start-up path, e.g. after a Typer upgrade re-enables
pydantic coercion (see nango_cli/cli/fast_params.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.receiver import Receiver

PROBE = """
import json, sys
from nango_cli.__main__ import main
sys.argv = ["nango-hooks", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
heavy = ["pydantic", "httpx", "aiohttp", "rich", "yaml", "asyncio"]
print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)
"""


def _heavy_modules(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args", [["--help"], ["config", "get", "url"], ["config", "show"], ["history"]]
)
def test_plain_commands_import_nothing_heavy(args: list[str]) -> None:
    assert _heavy_modules(*args) == []


def test_fire_imports_nothing_heavy(monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        monkeypatch.setenv("NANGO_HOOKS_URL", receiver.url)
        monkeypatch.setenv("NANGO_HOOKS_SIGNING_KEY", "k" * 20)
        assert _heavy_modules("fire", "--sync", "s", "-i", "p", "-m", "M") == []
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["history", "--limit", "0"],
        ["history", "--limit", "ten"],
        ["listen", "--port", "70000"],
        ["fire", "--sync", "s", "--retries", "x"],
    ],
)
def test_values_typed_on_the_command_line_are_still_validated(cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_numbers_typed_in_range_skip_pydantic() -> None:
    assert _heavy_modules("history", "--limit", "5") == []


def test_in_range_numbers_still_reach_the_command(cli) -> None:
    assert cli("history", "--limit", "3", "--json").exit_code == 0
    assert cli("history", "--limit", "-3").exit_code == 2
