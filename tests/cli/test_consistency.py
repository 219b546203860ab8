"""One consistent CLI: the JSON envelope everywhere, quiet broken pipes, readable help,
config edge cases, listen filters, fire --to-listener and
the demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from nango_cli.protocol import serialization, signatures
from tests.conftest import KEY, ROOT, check_envelope, define_syncs, jdata, run
from tests.listening import listening
from tests.receiver import Receiver

README = (ROOT / "README.md").read_text()


def _document(text: str) -> dict:
    document = json.loads(text)
    check_envelope(document)
    return document


# ---------------------------------------------------------------- JSON envelope


def _commands(tmp_path: Path, receiver: Receiver) -> list[tuple[list[str], bool]]:
    body = tmp_path / "body.json"
    body.write_text('{"type":"sync"}')
    good = signatures.hmac_signature(KEY, body.read_bytes())
    return [
        (["demo"], True),
        (["fire", "--sync", "s"], True),
        (["fire", "--sync", "nope"], False),
        (["fire", "--sync", "s", "--retries", "abc"], False),
        (["fire", "--bogus-flag"], False),
        (["fire", "--sync", "s", "--dry-run"], True),
        (["replay", "--last"], True),
        (["replay", "nope"], False),
        (["check", receiver.url, "--only", "sync", "--api-port", "0"], True),
        (["check", "--only", "nope"], False),
        (["syncs"], True),
        (["syncs", "--project", "/no/such"], False),
        (["verify", str(body), "--signature", good], True),
        (["verify", str(body)], False),
        (["verify", str(body), "--signature", "00" * 32], False),
        (["sign", str(body)], True),
        (["sign", "/no/such/file"], False),
        (["history"], True),
        (["history", "list", "-n", "2"], True),
        (["history", "show", "nope"], False),
        (["history", "export"], True),
        (["history", "requests"], True),
        (["history", "prune", "--older-than", "30d"], True),
        (["history", "clear"], False),
        (["records"], True),
        (["records", "show", "nope"], False),
        (["records", "clear", "--yes"], True),
        (["config", "show"], True),
        (["config", "get", "url"], True),
        (["config", "get", "connection_id"], False),
        (["config", "get", "nope"], False),
        (["config", "set", "retries", "3"], True),
        (["config", "set", "retries", "many"], False),
        (["config", "unset", "retries"], True),
        (["config", "path"], True),
        (["config", "envs"], True),
        (["config", "use", "staging"], False),
        (["completions", "bash"], True),
        (["completions", "tcsh"], False),
        (["scenario", "schema"], True),
        (["vectors"], True),
        (["vectors", "-o", str(tmp_path)], False),
        (["scenario", "init", "-o", str(tmp_path / "starter.yaml")], True),
        (["scenario", "run", str(tmp_path / "missing.yaml")], False),
        (["scenario", "record", "--since", "1h", "-o", str(tmp_path / "rec.yaml")], True),
        (["tunnel"], False),  # its events are a stream (tests/cli/test_tunnel.py)
        (["--version"], True),
        (["nope"], False),
    ]


def test_every_command_speaks_one_envelope(cli, configured: Receiver, tmp_path: Path) -> None:
    seen = set()
    for args, ok in _commands(tmp_path, configured):
        result = cli("--json", *args)
        try:
            document = _document(result.stdout)
        except ValueError:
            raise AssertionError((args, result.stdout[:500], result.stderr[:500])) from None
        assert document["ok"] is ok, (args, result.stdout)
        if ok:
            assert result.exit_code == 0, args
            assert "data" in document
        else:
            error = document["error"]
            assert result.exit_code == error["exit_code"] != 0, (args, error)
            assert error["kind"] and error["message"] and "\n" not in error["message"]
        seen.add(args[0])
    from nango_cli.cli import COMMANDS

    # every command but the servers (listen, api, ui, dev: NDJSON streams, tested with
    # them) and mcp (JSON-RPC on stdout, tests/cli/test_mcp.py)
    assert set(COMMANDS) - seen <= {"listen", "api", "ui", "dev", "mcp"}


def test_nango_hooks_json_env_and_version(cli) -> None:
    result = cli("--version", env={"NANGO_HOOKS_JSON": "1"})
    data = _document(result.stdout)["data"]
    assert result.exit_code == 0 and re.fullmatch(r"\d+\.\d+\.\d+", data["version"])
    usage = cli("fire", "--retries", "x", env={"NANGO_HOOKS_JSON": "1"})
    assert usage.exit_code == 2 and _document(usage.stdout)["error"]["kind"] == "usage"


def test_streams_are_one_envelope_per_line_errors_included(cli, configured: Receiver) -> None:
    with listening("--json", "--count", "1", "--timeout", "1") as lst:
        code, out, _err = lst.finish()
    lines = out.splitlines()
    assert code == 7 and len(lines) == 1
    document = _document(lines[0])
    assert document["ok"] is False and document["error"]["kind"] == "timeout"


# ---------------------------------------------------------------- broken pipes


@pytest.mark.parametrize(
    "command",
    [
        "config show",
        "syncs",
        "history",
        "history show $(nango-hooks history --json | python3 -c 'import json,sys;"
        'print(json.load(sys.stdin)["data"][0]["id"])\')',
        "records",
        "history export",
        "--help",
    ],
)
def test_a_closed_pipe_ends_quietly(home: Path, receiver: Receiver, command: str) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "NANGO_HOOKS_URL": receiver.url,
        "NANGO_HOOKS_SIGNING_KEY": KEY,
    }
    for _ in range(3):  # enough rows that the output outgrows one pipe buffer read
        run("fire", "--sync", "s", "-i", "s", "-m", "A", "-m", "B", "--added", "40", env=env)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"set -o pipefail; nango-hooks {command} | head -c 1; exit ${{PIPESTATUS[0]}}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 141), (command, done.returncode, done.stderr)
    assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


# ---------------------------------------------------------------- help


def _helps(cli) -> dict[str, str]:
    from nango_cli.cli import COMMANDS

    found = {"": cli("--help").stdout}
    for name in COMMANDS:
        found[name] = cli(name, "--help").stdout
    for group, subs in (
        (
            "config",
            [
                "set-url",
                "unset-url",
                "set-key",
                "set",
                "unset",
                "get",
                "show",
                "path",
                "envs",
                "use",
                "set-sync",
                "unset-sync",
            ],
        ),
        ("history", ["list", "show", "export", "import", "prune", "clear", "requests"]),
        ("records", ["list", "show", "clear"]),
    ):
        for sub in subs:
            found[f"{group} {sub}"] = cli(group, sub, "--help").stdout
    return found


def test_help_reads_well(cli) -> None:
    for name, text in _helps(cli).items():
        assert text.startswith("Usage: nango-hooks"), name
        for python_type in ("<str>", "<int", "<list", "<float", "<bool", "<path"):
            assert python_type not in text, (name, python_type)
        usage = text.splitlines()[0]
        assert "{" not in usage and "[[" not in usage, (name, usage)
    helps = _helps(cli)
    assert helps["replay"].splitlines()[0] == "Usage: nango-hooks replay [OPTIONS] [ID]..."
    assert (
        helps["config set"].splitlines()[0] == "Usage: nango-hooks config set [OPTIONS] NAME VALUE"
    )
    from nango_cli.app.settings_table import SETTINGS

    for name in SETTINGS:
        assert name in helps["config set"] and name in helps["config get"], name
    assert "NDJSON" in helps["listen"] and "one envelope document" not in helps["listen"]
    # the root help lists every command with its whole first line
    from nango_cli.cli import COMMANDS

    for name, (_, summary) in COMMANDS.items():
        assert summary in " ".join(helps[""].split()), name


def test_completion_of_syncs_envs_and_settings(cli, home: Path) -> None:
    define_syncs(cli)
    assert cli("--env", "prod", "config", "set", "retries", "1").exit_code == 0

    def complete(words: str) -> list[str]:
        env = {
            "_NANGO_HOOKS_COMPLETE": "complete_bash",
            "COMP_WORDS": f"nango-hooks {words}",
            "COMP_CWORD": str(len(words.split())),
        }
        return run(env=env).stdout.split()

    assert "github-tickets" in complete("fire --sync gith")
    assert complete("--env pr") == ["prod"]
    assert "circuit_breaker_window" in complete("config set circuit_breaker_w")


# ---------------------------------------------------------------- the repository


def test_nothing_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".py", ".md", ".toml", ".sh", "") and path.is_file():
            text = path.read_text(errors="replace")
            if re.search(r"\.\./shared|shared/nango-webhooks|shared/design", text):
                offenders.append(name)
    offenders = [o for o in offenders if o != "tests/cli/test_consistency.py"]
    assert offenders == []
    assert "docs/protocol.md" in README and (ROOT / "docs" / "protocol.md").is_file()


# ---------------------------------------------------------------- config


def test_config_edge_cases(cli, home: Path) -> None:
    unknown = cli("config", "use", "staging")
    assert unknown.exit_code == 6 and "--create" in unknown.stderr
    assert cli("config", "use", "staging", "--create").exit_code == 0
    assert cli("config", "set", "retries", "2").exit_code == 0
    assert "removed" in cli("config", "unset", "retries").stderr
    again = cli("config", "unset", "retries")
    assert again.exit_code == 0 and "was not set" in again.stderr
    assert cli("config", "set-url", "http://127.0.0.1:9/own", "--connection", "c7").exit_code == 0
    envs = jdata(cli("--json", "config", "envs").stdout)
    assert envs["connections"] == {"c7": "http://127.0.0.1:9/own"}
    assert "c7" in cli("config", "envs").stdout
    config = Path(cli("config", "path").stdout.split()[0])
    config.write_text('default_env = "dev"\n[environments.dev]\nurl = "http://x\n')
    broken = cli("config", "show")
    assert broken.exit_code == 3 and re.search(r"line 3, column \d+", broken.stderr)


# ---------------------------------------------------------------- listen filters


def _post(url: str, body: dict) -> int:
    data = serialization.serialize(body)
    return httpx.post(
        url, content=data, headers=signatures.signature_headers(KEY, data)
    ).status_code


def test_listen_filters_print_count_and_forward_only_matches(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    base = {"from": "nango", "providerConfigKey": "g"}
    bodies = [
        {**base, "type": "auth", "connectionId": "c1"},
        {**base, "type": "sync", "syncName": "a", "model": "M", "connectionId": "c1"},
        {**base, "type": "sync", "syncName": "b", "model": "M", "connectionId": "c1"},
        {**base, "type": "sync", "syncName": "a", "model": "N", "connectionId": "c1"},
        {**base, "type": "sync", "syncName": "a", "model": "M", "connectionId": "c2"},
        {**base, "type": "sync", "syncName": "a", "model": "M", "connectionId": "c3"},
    ]
    with Receiver() as app:
        args = ["--json", "-t", "sync", "-s", "a", "-m", "M", "-c", "c2", "-c", "c3"]
        with listening(*args, "--count", "2", "--forward-to", app.url) as lst:
            assert [_post(lst.url, b) for b in bodies] == [200] * 6
            code, out, err = lst.finish()
        forwarded = [json.loads(r.body)["connectionId"] for r in app.requests]
    assert code == 0  # --count 2 reached by the two matches only
    printed = lst.events(out)
    assert [e["connection_id"] for e in printed] == ["c2", "c3"]
    assert forwarded == ["c2", "c3"]
    stored = jdata(cli("--json", "history", "--received", "-n", "10").stdout)
    assert len(stored) == 6  # every one answered and stored
    assert "4 filtered out" in err
    with listening("--verbose", "-t", "auth", "--count", "1") as lst:
        assert _post(lst.url, bodies[1]) == 200 and _post(lst.url, bodies[0]) == 200
        code, out, err = lst.finish()
    assert "filtered" in out and code == 0


# ---------------------------------------------------------------- fire --to-listener, demo


def test_fire_to_listener_finds_the_running_listener(cli) -> None:
    define_syncs(cli)
    assert cli("config", "set-key", KEY).exit_code == 0
    missing = cli("fire", "--sync", "s", "--to-listener")
    assert missing.exit_code == 6 and "nango-hooks listen" in missing.stderr
    with listening("--json", "--count", "1") as lst:
        fired = cli("--json", "fire", "--sync", "s", "--to-listener")
        code, out, _ = lst.finish()
    assert fired.exit_code == 0 and code == 0
    (webhook,) = jdata(fired.stdout)["webhooks"]
    assert webhook["targets"] == [lst.url]
    (event,) = lst.events(out)
    assert event["signature"]["verdict"] == "valid" and event["sync_name"] == "s"
    after = cli("fire", "--sync", "s", "--to-listener")  # stopped: its address is gone
    assert after.exit_code == 6


def test_demo_needs_no_config_and_leaves_none(home: Path) -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "2 webhooks sent (one per model), 2 received, 2 with a valid signature" in result.stdout
    assert result.stderr.count("signature valid") == 2
    assert "nango-hooks config set-url" in result.stdout  # what to run next
    assert "nango-hooks dev " in result.stdout  # the way to develop a handler
    assert not home.exists() or not any(home.rglob("*.toml"))
    assert not (home / "data").exists() or not any((home / "data").iterdir())
    data = jdata(run("--json", "demo").stdout)
    assert [r["signature"]["verdict"] for r in data["received"]] == ["valid", "valid"]
    assert {json.loads(s["body"])["model"] for s in data["sent"]} == {
        "GithubIssue",
        "GithubComment",
    }
