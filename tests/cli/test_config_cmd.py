from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import KEY, jdata, jerror, run


def test_set_url_and_get(cli, home: Path) -> None:
    result = cli("config", "set-url", "http://127.0.0.1:3000/webhooks")
    assert result.exit_code == 0, result.stderr
    assert cli("config", "get", "url").stdout == "http://127.0.0.1:3000/webhooks\n"
    assert cli("config", "set-url", "--secondary", "https://backup.test/h").exit_code == 0
    assert cli("config", "get", "secondary_url").stdout.strip() == "https://backup.test/h"


def test_invalid_url_is_a_usage_error_and_nothing_is_written(cli, home: Path) -> None:
    result = cli("config", "set-url", "ftp://nope")
    assert result.exit_code == 2
    assert "error: invalid value for url" in result.stderr
    assert "hint:" in result.stderr
    assert not (home / "config.toml").exists()


def test_set_key_is_masked_everywhere_unless_revealed(cli, home: Path) -> None:
    result = cli("config", "set-key", KEY)
    assert result.exit_code == 0
    assert KEY not in result.stdout + result.stderr
    assert "…" + KEY[-4:] in result.stderr
    show = cli("config", "show")
    assert KEY not in show.stdout and "…" + KEY[-4:] in show.stdout
    assert KEY not in cli("config", "get", "signing_key").stdout
    assert cli("config", "get", "signing_key", "--reveal").stdout.strip() == KEY
    assert KEY in cli("config", "show", "--reveal").stdout
    assert KEY not in cli("config", "show", "--json").stdout
    assert stat.S_IMODE((home / "config.toml").stat().st_mode) == 0o600


def test_set_key_from_stdin(cli) -> None:
    result = cli("config", "set-key", "--stdin", input=KEY + "\n")
    assert result.exit_code == 0, result.stderr
    assert cli("config", "get", "signing_key", "--reveal").stdout.strip() == KEY


def test_set_key_without_value_and_without_tty_fails_fast() -> None:
    # A real subprocess with stdin from a pipe: must not hang waiting for a prompt.
    proc = run("config", "set-key", input=b"", timeout=20)
    assert proc.returncode == 2
    assert "not a terminal" in proc.stderr and "--stdin" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_set_get_unset_and_validation(cli) -> None:
    assert cli("config", "set", "retries", "5").exit_code == 0
    assert cli("config", "get", "retries").stdout.strip() == "5"
    bad = cli("config", "set", "retries", "many")
    assert bad.exit_code == 2 and "whole number" in bad.stderr
    unknown = cli("config", "set", "colour", "blue")
    assert unknown.exit_code == 2 and "valid settings:" in unknown.stderr
    assert cli("config", "unset", "retries").exit_code == 0
    missing = cli("config", "get", "retries")
    assert missing.exit_code == 6 and "not set" in missing.stderr


def test_defaults_table_and_environments(cli) -> None:
    assert cli("config", "set", "--defaults", "timeout", "5s").exit_code == 0
    assert cli("--env", "prod", "config", "set", "timeout", "30s").exit_code == 0
    assert cli("config", "get", "timeout").stdout.strip() == "5s"
    assert cli("config", "get", "timeout", "--env", "prod").stdout.strip() == "30s"
    assert cli("config", "get", "timeout", env={"NANGO_HOOKS_ENV": "prod"}).stdout.strip() == "30s"
    envs = cli("config", "envs", "--json")
    assert '"current": "dev"' in envs.stdout and '"prod"' in envs.stdout
    assert cli("config", "use", "prod").exit_code == 0
    assert cli("config", "get", "timeout").stdout.strip() == "30s"
    assert "* prod" in cli("config", "envs").stdout


def test_show_reports_sources(cli) -> None:
    cli("config", "set", "retries", "1")
    result = cli("config", "show", "--json", env={"NANGO_HOOKS_TIMEOUT": "3s"})

    doc = jdata(result.stdout)
    sources = {s["name"]: s["source"] for s in doc["settings"]}
    assert sources["retries"] == "file [environments.dev]"
    assert sources["timeout"] == "env var NANGO_HOOKS_TIMEOUT"
    assert sources["retry_policy"] == "default"


def test_unparseable_file_is_reported_and_never_overwritten(cli, home: Path) -> None:
    home.mkdir(parents=True)
    path = home / "config.toml"
    path.write_text("[environments.dev\nurl = 'x'\n")
    before = path.read_bytes()
    for args in (("config", "show"), ("config", "set", "retries", "2"), ("config", "use", "x")):
        result = cli(*args)
        assert result.exit_code == 3
        assert str(path) in result.stderr and "line 1" in result.stderr
        assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_path_prints_the_config_file(cli, home: Path) -> None:
    assert cli("config", "path").stdout.strip() == str(home / "config.toml")


def test_set_sync_table(cli) -> None:
    result = cli(
        "config", "set-sync", "github-tickets", "-i", "github", "-m", "Ticket", "-m", "Comment"
    )
    assert result.exit_code == 0, result.stderr

    doc = jdata(cli("config", "show", "--json").stdout)
    assert doc["syncs"]["github-tickets"]["models"] == ["Ticket", "Comment"]
    assert cli("config", "unset-sync", "github-tickets").exit_code == 0
    assert cli("config", "unset-sync", "github-tickets").exit_code == 6


def test_json_errors_have_one_shape(cli) -> None:

    result = cli("--json", "config", "get", "nope")
    assert result.exit_code == 2
    error = jerror(result.stdout)
    assert error["exit_code"] == 2 and error["kind"] == "usage"


def test_set_key_prompts_hidden_on_a_terminal(home: Path) -> None:
    """A real pseudo-terminal: the prompt appears, the key is not echoed, and it is saved."""
    import os
    import pty
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nango_cli", "config", "set-key"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        env=dict(os.environ),
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 20
    while b"hidden" not in seen and time.monotonic() < deadline:
        seen += os.read(controller, 1024)
    os.write(controller, KEY.encode() + b"\n")
    assert proc.wait(20) == 0
    try:
        while chunk := os.read(controller, 1024):
            seen += chunk
    except OSError:
        pass
    os.close(controller)
    assert KEY.encode() not in seen  # not echoed, not printed back
    assert run("config", "get", "signing_key", "--reveal").stdout.strip() == KEY


def test_a_setting_in_a_new_environment_says_it_made_it(cli) -> None:
    """Before: `config set-url URL -e staing` (a typo) silently made environment 'staing'."""
    made = cli("config", "set-url", "http://127.0.0.1:3000/hooks", "-e", "staing")
    assert made.exit_code == 0 and "created environment 'staing'" in made.stderr
    again = cli("config", "set-url", "http://127.0.0.1:3000/other", "-e", "staing")
    assert again.exit_code == 0 and "created environment" not in again.stderr
