"""Start-up discipline: plain commands do not import heavy modules they do not use.

Not a timing test (benchmarks/startup.py measures time); this fails when an
import creeps onto the start-up path, e.g. after a Typer upgrade re-enables
pydantic coercion (see nango_cli/cli/fast_params.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nango_cli.cli import fast_params
from tests.conftest import ROOT
from tests.receiver import Receiver

PROBE = """
import json, sys
from nango_cli.cli import app
also = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
sys.argv = ["nango-hooks", *json.loads(sys.argv[1])]
try:
    app(prog_name="nango-hooks")  # not __main__.main, which leaves with os._exit
except SystemExit:
    pass
heavy = ["pydantic", "httpx", "aiohttp", "rich", "yaml", "asyncio", "uvloop", "mcp"]
heavy += also
print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)
"""
# Parts of nango-hooks itself a plain `fire` to a current store has no use for: the
# migrations (the store is current) and the forgery judge (nothing to judge).
FIRE_NEEDS_NOT = ["nango_cli.storage.migrations", "nango_cli.app.forgeries"]


def _heavy_modules(
    *args: str, env: dict[str, str] | None = None, also: list[str] | None = None
) -> list[str]:
    """Heavy modules a command imports (and those of `also`). With the Typer shim
    disabled (CI runs the suite once that way) pydantic is expected, so it is left out
    of the answer."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(also or [])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=full_env,
    )
    found = json.loads(proc.stderr.strip().splitlines()[-1])
    if full_env.get(fast_params.DISABLE_ENV):
        found = [m for m in found if m != "pydantic"]
    return list(found)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["config", "get", "url"],
        ["history"],
        ["fire", "--sync", "s", "-i", "p", "-m", "M", "--dry-run"],
    ],
)
def test_plain_commands_import_nothing_heavy(args: list[str]) -> None:
    assert _heavy_modules(*args) == []


def test_tables_are_the_only_reason_to_load_rich() -> None:
    assert _heavy_modules("config", "show") == ["rich"]


def test_fire_imports_httpx_and_nothing_else_heavy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx is fire's client; the load transport, Rich and YAML stay out."""
    with Receiver() as receiver:
        monkeypatch.setenv("NANGO_HOOKS_URL", receiver.url)
        monkeypatch.setenv("NANGO_HOOKS_SIGNING_KEY", "k" * 20)
        assert _heavy_modules("fire", "--sync", "s", "-i", "p", "-m", "M") == ["httpx"]
        assert len(receiver.requests) == 1


def test_a_plain_fire_to_a_current_store_loads_no_migration_and_no_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first fire makes the store (its migrations run); the next one finds it
    current with one read. Neither judges forgeries it did not send; a fire that sends
    one does load the judge."""
    fire = ("fire", "--sync", "s", "-i", "p", "-m", "M")
    with Receiver() as receiver:
        monkeypatch.setenv("NANGO_HOOKS_URL", receiver.url)
        monkeypatch.setenv("NANGO_HOOKS_SIGNING_KEY", "k" * 20)
        assert _heavy_modules(*fire, also=FIRE_NEEDS_NOT) == [
            "httpx",
            "nango_cli.storage.migrations",
        ]
        assert _heavy_modules(*fire, also=FIRE_NEEDS_NOT) == ["httpx"]
        assert _heavy_modules(*fire, "--sign", "bad", also=FIRE_NEEDS_NOT) == [
            "httpx",
            "nango_cli.app.forgeries",
        ]
        assert len(receiver.requests) == 4  # the last: a control, then the forgery


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


def test_the_shim_is_what_keeps_pydantic_out() -> None:
    with_shim = {fast_params.DISABLE_ENV: ""}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["history", "--limit", "5"])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, fast_params.DISABLE_ENV: "1"},
    )
    assert "pydantic" in json.loads(proc.stderr.strip().splitlines()[-1])
    assert _heavy_modules("history", "--limit", "5", env=with_shim) == []


def test_the_shim_stands_aside_when_typer_changes() -> None:
    """An upgrade that renames what the shim patches must not break the CLI."""

    class Renamed:
        def process_value(self, ctx: object, value: object) -> object:
            return value

    assert fast_params._supported(Renamed) is False

    class Parameter:  # not the attributes _coerce reads; process_value then defers to Typer
        multiple = False
        nargs = 1

    with pytest.raises(AttributeError):
        fast_params._coerce(Parameter(), "5")
