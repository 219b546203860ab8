"""Each invocation runs in an environment of its own (nango_cli/cli/environment.py):
nothing one run sets (stream mode, warnings already shown) leaks into the next run
in the same process, and the store's close policy is an argument, not a flag."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from nango_cli.cli import output
from nango_cli.cli.environment import Environment, invocation, using
from nango_cli.storage.webhooks import Store
from tests.conftest import check_envelope


def test_a_stream_command_does_not_turn_later_json_into_ndjson(cli) -> None:
    """Before: `listen` set a module flag that made every later --json document in the
    process one NDJSON line."""
    assert cli("listen", "--no-such-option").exit_code == 2
    result = cli("--json", "config", "get", "retry_policy")
    assert result.exit_code == 0
    assert result.stdout.count("\n") > 1, result.stdout  # an indented document, not a line
    check_envelope(__import__("json").loads(result.stdout))


def test_warnings_shown_once_per_run_are_shown_again_in_the_next_run(cli, tmp_path: Path) -> None:
    """Before: a warning shown by one in-process run was never shown by the next."""
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    config = open_dir / "c.toml"
    config.write_text("")
    for _ in range(2):
        result = cli("--config", str(config), "config", "get", "retry_policy")
        assert result.exit_code == 0
        assert result.stderr.count("writable by everyone") == 1, result.stderr


def test_output_goes_to_the_environments_streams() -> None:
    out, err = io.StringIO(), io.StringIO()
    with using(Environment(stdout=out, stderr=err, json=True)) as env:
        assert invocation() is env
        output.out("result")
        output.warn_once("careful")
        output.warn_once("careful")
        output.emit({"a": 1})
    assert out.getvalue().startswith("result\n{\n")
    assert err.getvalue() == "warning: careful\n"
    assert invocation() is not env


def test_the_store_closes_unless_told_the_process_is_leaving(tmp_path: Path) -> None:
    kept = Store(tmp_path / "kept.sqlite3", fast_exit=True)
    kept.close()
    with kept.reading() as db:  # left for os._exit to reclaim: still usable
        assert db.execute("SELECT count(*) FROM webhooks").fetchone()[0] == 0
    closed = Store(tmp_path / "closed.sqlite3")
    closed.close()
    with pytest.raises(sqlite3.ProgrammingError), closed.reading() as db:
        db.execute("SELECT 1")
