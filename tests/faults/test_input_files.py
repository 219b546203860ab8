"""Hostile and broken input files: each was a hang, a crash ("unexpected", exit 1) or
raw control characters on a terminal before; each is now a clear error with a
documented exit code, or the right behaviour, beside a control that works."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KEY, ROOT, jdata, run
from tests.receiver import Receiver

SELF_REFERENCING = """integrations:
  g:
    syncs:
      s:
        output: A
models:
  A: {a: A, b: A, c: A, d: A, e: A, f: A, g: A, h: A, name: string}
"""
FANNING_OUT = (
    "integrations:\n  g:\n    syncs:\n      s:\n        output: A\nmodels:\n"
    + "".join(
        f"  {m}: {{{', '.join(f'{f}: {n}' for f in 'abcdefgh')}}}\n"
        for m, n in zip("ABCD", "BCDE", strict=True)
    )
    + "  E: {a: string, b: string, c: string, d: string, e: string, f: string, g: string}\n"
)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.fixture
def project(tmp_path: Path, cli) -> Path:
    assert cli("config", "set-key", KEY).exit_code == 0
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_models_nested_in_themselves_are_made_to_a_bounded_depth(cli, project: Path) -> None:
    """Before: 8 self-referencing fields made `fire --sync` run past 20 s at 670 MB."""
    (project / "nango.yaml").write_text(SELF_REFERENCING)
    with Receiver() as receiver:
        result = cli("fire", "--sync", "s", "--project", str(project), "--url", receiver.url)
        assert result.exit_code == 0, result.stderr
    (record,) = jdata(cli("records", "--json").stdout)
    assert isinstance(record["record"]["name"], str)
    assert 1 < _depth(record["record"]) <= 4  # the model inside itself, twice at most


def test_models_that_fan_out_are_a_clear_error(cli, project: Path) -> None:
    (project / "nango.yaml").write_text(FANNING_OUT)
    with Receiver() as receiver:
        result = cli("fire", "--sync", "s", "--project", str(project), "--url", receiver.url)
        assert receiver.requests == []  # nothing announced without its records
    assert result.exit_code == 3
    assert "model 'A'" in result.stderr and "more than 20,000 values" in result.stderr
    assert "--records" in result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("        runs: !!timestamp 2026-99-99\n", "line 6, column 15: !!timestamp"),
        ("        runs: " + "9" * 5000 + "\n", "line 6, column 15: a number longer than 400"),
        ("        runs: every day\n      s:\n        output: B\n", "duplicate key 's'"),
    ],
    ids=["bad-timestamp", "5000-digits", "duplicate-key"],
)
def test_a_broken_nango_yaml_is_an_error_with_its_place(
    cli, project: Path, text: str, problem: str
) -> None:
    head = "integrations:\n  g:\n    syncs:\n      s:\n        output: A\n"
    (project / "nango.yaml").write_text(head + text)
    result = cli("syncs", "--project", str(project))
    assert result.exit_code == 3 and problem in result.stderr, result.stderr
    (project / "nango.yaml").write_text(head + "        runs: no\n")  # the control
    listed = jdata(cli("--json", "syncs", "--project", str(project)).stdout)
    assert listed["syncs"][0]["runs"] == "no"  # a string, not YAML 1.1's false


@pytest.mark.parametrize(
    "config",
    [
        "[defaults]\nretries = " + "9" * 5000 + "\n",
        "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n",
    ],
    ids=["5000-digit-integer", "10k-deep-tables"],
)
@pytest.mark.parametrize(
    "args",
    [("config", "show"), ("config", "set", "retries", "3"), ("fire", "--sync", "s", "-i", "g")],
    ids=["show", "set", "fire"],
)
def test_a_config_file_that_cannot_be_read_is_exit_3(home: Path, config: str, args: tuple) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config)
    result = run(*args, "-m", "M") if args[0] == "fire" else run(*args)
    assert result.returncode == 3, result.stderr
    assert "invalid TOML" in result.stderr and "Traceback" not in result.stderr
    assert (home / "config.toml").read_text() == config  # never overwritten


def test_a_set_new_path_thousands_deep_is_a_usage_error(cli) -> None:
    deep = ".".join(["a"] * 5000)
    result = cli(
        "fire",
        "--sync",
        "s",
        "-i",
        "g",
        "-m",
        "M",
        "--dry-run",
        "--sign",
        "none",
        "--set-new",
        f"{deep}=1",
    )
    assert result.exit_code == 2 and "5000 levels deep" in result.stderr
    ok = cli(
        "fire",
        "--sync",
        "s",
        "-i",
        "g",
        "-m",
        "M",
        "--dry-run",
        "--sign",
        "none",
        "--set-new",
        "a.b.c=1",
    )
    assert ok.exit_code == 0


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('{"id": "\\ud800"}\n', "not usable as a record id"),
        ('{"id": "1"}\n{"id": 1}\n', "line 2 repeats the id '1' of line 1"),
    ],
    ids=["lone-surrogate-id", "same-id-twice"],
)
def test_records_files_with_unusable_ids_are_refused(
    cli, tmp_path: Path, lines: str, problem: str
) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    path = tmp_path / "records.jsonl"
    path.write_text(lines)
    with Receiver() as receiver:
        args = ("fire", "--sync", "s", "-i", "g", "-m", "M", "--url", receiver.url)
        result = cli(*args, "--records", str(path))
        assert result.exit_code == 2 and problem in result.stderr
        assert receiver.requests == []
        path.write_text('{"id": "1", "note": "\\ud800 kept"}\n')  # the control
        assert cli(*args, "--records", str(path)).exit_code == 0
    (record,) = jdata(cli("records", "--json").stdout)
    assert record["record"]["note"].endswith(" kept")


def test_syncs_fields_of_a_huge_model_stays_readable(cli, tmp_path: Path) -> None:
    """Before: a 4 MB schema of 110,000 fields took `syncs --fields` over a minute
    (a quadratic lookup, then a table of 110,000 rows)."""
    folder = tmp_path / "big" / ".nango"
    folder.mkdir(parents=True)
    fields = {f"f{i}": {"type": "string"} for i in range(110_000)}
    schema = {"definitions": {"Big": {"properties": fields, "required": list(fields)}}}
    (folder / "schema.json").write_text(json.dumps(schema))
    manifest = [{"providerConfigKey": "g", "syncs": [{"name": "s", "output": ["Big"]}]}]
    (folder / "nango.json").write_text(json.dumps(manifest))
    shown = cli("syncs", "--fields", "--project", str(folder.parent))
    assert shown.exit_code == 0
    assert "f499 " in shown.stdout and "f500 " not in shown.stdout
    assert "and 109,500 more fields (--json lists them all)" in shown.stdout
    listed = jdata(cli("--json", "syncs", "--fields", "--project", str(folder.parent)).stdout)
    assert len(listed["models"]["Big"]) == 110_000 and listed["models"]["Big"][-1]["required"]


def test_history_export_escapes_controls_on_a_terminal_only(home: Path, tmp_path: Path) -> None:
    """Before: `history export` to a terminal wrote stored bodies' C1 and bidi controls
    raw (the table and --json escaped them). A file still gets the exact bytes."""
    body = '{"type":"sync","note":"\u009b31m\u202egnp.exe"}'
    line = {
        "format": "nango-hooks/webhook@1",
        "id": "0123456789ab",
        "created_at": "2026-11-26T12:00:00.000Z",
        "direction": "received",
        "status": "received",
        "body": body,
    }
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(line, ensure_ascii=False) + "\n")
    assert run("history", "import", str(source)).returncode == 0
    exported = tmp_path / "out.jsonl"
    assert run("history", "export", "-o", str(exported)).returncode == 0
    assert json.loads(exported.read_text())["body"] == body  # the file is exact
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nango_cli", "history", "export"],
        stdout=child,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=os.environ,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(main)
    shown = b"".join(chunks).decode()
    assert "\u009b" not in shown and "\u202e" not in shown
    assert "\\u009b31m\\u202egnp.exe" in shown
    assert json.loads(shown.strip())["body"] == body  # the same JSON, escaped
