"""`nango-hooks mcp` through the official MCP SDK's own client: in this process (the
server object), and over stdio against a real `nango-hooks mcp` process (handshake,
stdout hygiene, a fire that a real receiver gets)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from nango_cli.servers import mcp as server_module
from tests.conftest import KEY, ROOT, Cli
from tests.receiver import Receiver

READ = {
    "nango_hooks_history_list",
    "nango_hooks_history_show",
    "nango_hooks_verify",
    "nango_hooks_settings_show",
    "nango_hooks_records_list",
    "nango_hooks_scenario_validate",
    "nango_hooks_protocol_notes",
}
WRITE = {
    "nango_hooks_fire",
    "nango_hooks_replay",
    "nango_hooks_check",
    "nango_hooks_scenario_run",
    "nango_hooks_api_fault",
}


def _session(server: Any, *calls: tuple[str, dict[str, Any]]) -> tuple[Any, list[Any]]:
    async def main() -> tuple[Any, list[Any]]:
        async with Client(server) as client:
            tools = await client.list_tools()
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
            return tools, results

    return asyncio.run(main())


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_write_tools_are_absent_without_the_flag(cli: Cli) -> None:
    tools, _ = _session(server_module.build(cli.directories))
    assert {t.name for t in tools.tools} == READ
    assert all(t.annotations.read_only_hint for t in tools.tools)
    tools, _ = _session(
        server_module.build(cli.directories, allow_write=True, target_is_loopback=False)
    )
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == READ | WRITE
    fire = by_name["nango_hooks_fire"]
    assert fire.annotations.read_only_hint is False and fire.annotations.open_world_hint is True
    assert {"sync", "added", "connection", "url"} <= set(fire.input_schema["properties"])


def test_read_tools_answer_the_clis_documents(cli: Cli, configured: Receiver) -> None:
    assert cli("fire", "--sync", "s", "--added", "2", "-c", "c1").exit_code == 0
    body = configured.requests[0].body
    signature = {k.lower(): v for k, v in configured.requests[0].headers.items()}[
        "x-nango-hmac-sha256"
    ]
    received = dict(configured.requests[0].headers)
    forged = {"X-Nango-Hmac-Sha256": signature}  # with a body changed after signing
    _, (listed, verified, by_headers, tampered, settings, notes, missing) = _session(
        server_module.build(cli.directories),
        ("nango_hooks_history_list", {"limit": 5}),
        ("nango_hooks_verify", {"body": body.decode(), "signature": signature}),
        ("nango_hooks_verify", {"body": body.decode(), "headers": received}),
        ("nango_hooks_verify", {"body": body.decode() + " ", "headers": forged}),
        ("nango_hooks_settings_show", {}),
        ("nango_hooks_protocol_notes", {"type": "sync"}),
        ("nango_hooks_history_show", {"id": "ffffffffffff"}),
    )
    (row,) = _data(listed)["data"]
    assert row["connection_id"] == "c1"
    assert _data(verified)["ok"] is True and _data(by_headers)["ok"] is True
    assert tampered.is_error and "hint" in tampered.content[0].text
    shown = json.dumps(_data(settings))
    assert KEY not in shown  # secrets masked
    assert "next_cursor" in _data(notes)["data"]["notes"]
    assert missing.is_error and "ffffffffffff" in missing.content[0].text


def test_a_scenario_error_names_its_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: bad\nsteps:\n  - syncc: s\n")
    _, (result,) = _session(
        server_module.build(cli.directories), ("nango_hooks_scenario_validate", {"path": str(path)})
    )
    assert result.is_error and "bad.yaml:4:" in result.content[0].text


def test_over_stdio_an_agent_fires_a_webhook_a_receiver_gets(
    cli: Cli, configured: Receiver, home: Path
) -> None:
    """The SDK's stdio client against a real `nango-hooks mcp --allow-write` process."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "nango_cli", "mcp", "--allow-write"],
        env={**os.environ, "NANGO_HOOKS_HOME": str(home)},
        cwd=str(ROOT),
    )
    tools, (fired, listed) = _session(
        params,
        ("nango_hooks_fire", {"sync": "s", "added": 1, "connection": "agent-1"}),
        ("nango_hooks_history_list", {"connection": "agent-1"}),
    )
    assert {t.name for t in tools.tools} >= WRITE
    (webhook,) = _data(fired)["data"]["webhooks"]
    (arrived,) = configured.requests
    assert json.loads(arrived.body)["connectionId"] == "agent-1"
    assert [r["id"] for r in _data(listed)["data"]] == [webhook["id"]]


def test_stdout_carries_json_rpc_only(home: Path) -> None:
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    done = subprocess.run(
        [sys.executable, "-m", "nango_cli", "mcp"],
        input=json.dumps(hello) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "NANGO_HOOKS_HOME": str(home)},
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, done.stderr
    for line in lines:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "nango-hooks"


def test_without_the_extra_it_says_which_to_install(tmp_path: Path, home: Path) -> None:
    shadow = tmp_path / "shadow" / "mcp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "NANGO_HOOKS_HOME": str(home), "PYTHONPATH": str(shadow.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "nango_cli", "mcp"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 3
    assert "pip install 'nango-hooks[mcp]'" in done.stderr and "Traceback" not in done.stderr


def test_an_api_fault_needs_a_running_api(cli: Cli) -> None:
    _, (result,) = _session(
        server_module.build(cli.directories, allow_write=True),
        ("nango_hooks_api_fault", {"status": 500}),
    )
    assert result.is_error and "no `nango-hooks api`" in result.content[0].text


def test_the_tools_read_the_config_file_the_server_was_given(cli: Cli, tmp_path: Path) -> None:
    """`nango-hooks --config FILE mcp`: the tools answer from FILE (before: the tools'
    CLI processes read the default config, while the server itself read FILE)."""
    given = cli.directories.with_config(tmp_path / "team.toml")
    assert Cli(given)("config", "set-url", "http://127.0.0.1:9/team").exit_code == 0
    assert cli("config", "set-url", "http://127.0.0.1:9/default").exit_code == 0
    _, (shown,) = _session(server_module.build(given), ("nango_hooks_settings_show", {}))
    said = json.dumps(_data(shown))
    assert "http://127.0.0.1:9/team" in said and "/default" not in said
