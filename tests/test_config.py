from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nango_cli.app import config_file, settings, settings_table
from nango_cli.errors import ConfigError, UsageError
from nango_cli.support import paths


def test_the_process_directories_follow_nango_hooks_home(home: Path) -> None:
    found = paths.Directories.from_os()
    assert found.config_file == home / "config.toml"
    assert found.history_db == home / "data" / "history.sqlite3"
    assert found == paths.Directories.under(home)


def test_config_env_var_and_flag_choose_the_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANGO_HOOKS_CONFIG", str(tmp_path / "other.toml"))
    found = paths.Directories.from_os()
    assert found.config_file == tmp_path / "other.toml"
    assert found.data == home / "data"  # the data stay where NANGO_HOOKS_HOME says
    assert found.with_config(tmp_path / "flag.toml").config_file == tmp_path / "flag.toml"


def test_an_invocation_keeps_its_state_where_it_is_told(home: Path, tmp_path: Path) -> None:
    """The environment passes the directories down: an invocation given others writes
    there and nowhere under NANGO_HOOKS_HOME (the test's `home`)."""
    from tests.conftest import Cli, jdata

    elsewhere = paths.Directories.under(tmp_path / "elsewhere")
    other = Cli(elsewhere)
    assert other("config", "set-url", "http://127.0.0.1:9/x").exit_code == 0
    assert other("history").exit_code == 0  # opens (makes) the history store
    assert elsewhere.config_file.exists() and elsewhere.history_db.exists()
    assert not (home / "config.toml").exists() and not (home / "data").exists()
    said = jdata(other("--json", "config", "path").stdout)
    assert said == {
        "config_file": str(elsewhere.config_file),
        "history_db": str(elsewhere.history_db),
    }


def _file(tmp_path: Path, text: str) -> config_file.ConfigFile:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config_file.ConfigFile.load(path)


def test_precedence_flag_over_env_over_env_table_over_defaults_over_builtin(tmp_path: Path) -> None:
    file = _file(
        tmp_path,
        'default_env = "prod"\n[defaults]\ntimeout = "5s"\nretries = 1\n'
        '[environments.prod]\nretries = 4\nurl = "https://prod.example.com/h"\n',
    )
    resolved = settings.resolve(file, environ={})
    assert resolved.env == "prod" and resolved.env_source == "file (default_env)"
    assert resolved.values["retries"].value == 4
    assert resolved.values["retries"].source == "file [environments.prod]"
    assert resolved.values["timeout"].value == 5.0
    assert resolved.values["timeout"].source == "file [defaults]"
    assert resolved.values["retry_policy"].source == "default"

    environ = {"NANGO_HOOKS_RETRIES": "7", "NANGO_HOOKS_ENV": "dev"}
    resolved = settings.resolve(file, environ=environ)
    assert resolved.env == "dev"
    assert resolved.values["retries"].value == 7
    assert resolved.values["retries"].source == "env var NANGO_HOOKS_RETRIES"

    resolved = settings.resolve(file, env_flag="prod", flags={"retries": 9}, environ=environ)
    assert resolved.env == "prod" and resolved.values["retries"].value == 9
    assert resolved.values["retries"].source == "flag"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("url", "http://127.0.0.1:3000/x", "http://127.0.0.1:3000/x"),
        ("timeout", "500ms", 0.5),
        ("timeout", "2m", 120.0),
        ("timeout", 20, 20.0),
        ("retries", "3", 3),
        ("send_empty_syncs", "off", False),
        ("retry_policy", "SERVER", "server"),
        ("listen_path", "/webhooks", "/webhooks"),
    ],
)
def test_values_are_typed(name: str, raw: object, expected: object) -> None:
    assert settings_table.SETTINGS[name].parse(raw) == expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("url", "ftp://x"),
        ("url", "http://"),
        ("url", "not a url"),
        ("url", "http://h:99999/"),
        ("timeout", "soon"),
        ("timeout", "0"),
        ("retries", "-1"),
        ("retries", "two"),
        ("send_empty_syncs", "maybe"),
        ("retry_policy", "sometimes"),
        ("signing_key", "has space"),
        ("listen_path", "webhooks"),
    ],
)
def test_invalid_values_are_rejected(name: str, raw: object) -> None:
    with pytest.raises(ValueError):
        settings_table.SETTINGS[name].parse(raw)


def test_unknown_setting_lists_valid_names() -> None:
    with pytest.raises(UsageError) as info:
        settings_table.get_setting("colour")
    assert "signing_key" in (info.value.hint or "")


def test_unparseable_file_reports_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[environments.dev]\nurl = "http://x"\nretries = = 3\n')
    with pytest.raises(ConfigError) as info:
        config_file.ConfigFile.load(path)
    assert str(path) in info.value.message and "line 3" in info.value.message


def test_wrong_value_in_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _file(tmp_path, '[environments.dev]\nretries = "lots"\n')
    assert "environments.dev.retries" in info.value.message


def test_env_var_with_bad_value_is_a_config_error(tmp_path: Path) -> None:
    file = _file(tmp_path, "")
    with pytest.raises(ConfigError) as info:
        settings.resolve(file, environ={"NANGO_HOOKS_TIMEOUT": "soon"})
    assert "NANGO_HOOKS_TIMEOUT" in info.value.message


def test_save_is_0600_in_a_0700_dir(tmp_path: Path) -> None:
    path = tmp_path / "new" / "c.toml"
    file = config_file.ConfigFile(path=path)
    file.table_for_write("dev")["url"] = "http://x.test/"
    file.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config_file.ConfigFile.load(path).env_table("dev") == {"url": "http://x.test/"}


def test_crash_mid_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[environments.dev]\nurl = "http://old.test/"\n')
    path.chmod(0o600)
    before = path.read_bytes()

    def crash(fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", crash)
    file = config_file.ConfigFile.load(path)
    file.table_for_write("dev")["url"] = "http://new.test/"
    with pytest.raises(OSError):
        file.save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.toml"]  # no temp file left behind


def test_every_setting_is_a_typed_attribute(tmp_path) -> None:
    """`settings.timeout` (a float to mypy) instead of `settings["timeout"]` (Any)."""
    from nango_cli.app.config_file import ConfigFile
    from nango_cli.app.settings import Settings, _Typed, resolve
    from nango_cli.app.settings_table import SETTINGS

    typed = {name for name, value in vars(Settings).items() if isinstance(value, _Typed)}
    assert typed == set(SETTINGS)
    settings = resolve(ConfigFile.load(tmp_path / "config.toml"), None, {"timeout": 5.0}, {})
    assert settings.timeout == 5.0 == settings["timeout"]
    assert settings.api_port == 3003 and settings.signing_key is None
