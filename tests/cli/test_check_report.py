"""`check`'s report: complete at 80 and 100 columns, and naming the handler's own
failed API call (or the API that is not running) as the likely cause."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.test_check_cmd import handler
from tests.conftest import KEY, jpayload, run
from tests.handlers.aiohttp_app import Bugs, PyHandler
from tests.listening import serving

SECRET = "sk-check-0123456789abcdef"
ANSWER = "order-service rejected the webhook: missing field endUser in payload; see logs"


def refuses_syncs(headers: dict, body: bytes, seen: dict):
    if json.loads(body)["type"] == "sync":
        return 422, json.dumps({"error": ANSWER}).encode()
    return 200


@pytest.mark.parametrize("columns", [80, 100])
def test_the_report_is_complete_at_80_and_100_columns(home: Path, columns: int) -> None:
    """Before: at 120 columns the table dropped its verdict and webhook columns (the ids
    its hint tells you to use) and cut the answer."""
    assert run("config", "set-key", KEY).returncode == 0
    with handler(refuses_syncs) as url:
        done = run(
            "check",
            url,
            "--only",
            "sync,auth-creation,duplicate",
            "--api-port",
            "0",
            env={"COLUMNS": str(columns)},
        )
        ids = {r["id"]: r for r in json.loads(run("--json", "history", "-n", "50").stdout)["data"]}
    assert done.returncode == 9, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns, done.stdout
    rows = {line.split()[0]: line.split() for line in lines if line.split()}
    assert rows["sync"][1] == "fail" and rows["auth-creation"][1] == "pass"
    assert rows["duplicate"][1] == "fail"
    sync_ids = [i for i, r in ids.items() if r["type"] == "sync"]
    assert rows["sync"][2] in sync_ids  # the full id `history show` takes
    # the handler's answer, whole, under the failed checks (wrapped, not cut)
    assert "".join(ANSWER.split()) in "".join(done.stdout.split())
    assert "sync, duplicate: fail" in done.stdout
    assert "…" not in done.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_names_the_handlers_failed_api_call(home: Path) -> None:
    """Before: a handler answering 500 because its own GET /records was refused (a wrong
    secret key) got only "500 handler failed"."""
    assert run("config", "set-key", KEY).returncode == 0
    assert run("config", "set-key", "--secret", SECRET).returncode == 0
    with serving("api", "Nango API on") as api:
        with PyHandler(KEY, api.url, SECRET) as good:
            control = run("--json", "check", good.url, "--only", "sync", "-c", "c1")
        with PyHandler(KEY, api.url, SECRET, Bugs(secret_key="sk-from-another-env")) as bad:
            failed = run("--json", "check", bad.url, "--only", "sync", "-c", "c1")
            human = run("check", bad.url, "--only", "sync", "-c", "c1", env={"COLUMNS": "100"})
    (passed,) = jpayload(control.stdout)["checks"]
    assert control.returncode == 0 and passed["verdict"] == "pass" and passed["cause"] is None
    (sync,) = jpayload(failed.stdout)["checks"]
    assert failed.returncode == 9 and sync["verdict"] == "fail"
    assert sync["answer"] == '{"error": "fetch failed: GET /records answered 401"}'
    assert sync["cause"].startswith(
        "the handler's own call GET /records?model=GithubTicket&limit=2&modified_after="
    )
    assert " was answered 401 unknown_account: " in sync["cause"]
    assert "NANGO_SECRET_KEY" in sync["cause"]
    assert "cause" in human.stdout and "unknown_account" in human.stdout


def test_check_says_when_the_handler_calls_another_api(home: Path) -> None:
    """check serves the API itself when none runs: a handler pointed elsewhere is told
    the address it should use."""
    assert run("config", "set-key", KEY).returncode == 0
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    port = _closed_port()
    with PyHandler(KEY, nowhere, SECRET) as h:
        done = run(
            "--json",
            "check",
            h.url,
            "--only",
            "sync,auth-creation",
            "-c",
            "c1",
            "--api-port",
            str(port),
        )
    checks = {c["name"]: c for c in jpayload(done.stdout)["checks"]}
    assert checks["auth-creation"]["verdict"] == "pass"  # the handler is up and verifies
    assert checks["sync"]["verdict"] == "fail"
    assert checks["sync"]["cause"] == (
        f"the handler made no call to the API at http://127.0.0.1:{port} while handling it: "
        f"if it calls Nango, is its NANGO_HOST http://127.0.0.1:{port}?"
    )


def test_check_runs_on_a_connection_of_its_own_and_writes_junit(home: Path, tmp_path: Path) -> None:
    """Before: check added, updated and deleted records in the connection the user
    develops against (the configured one, or test-connection-id)."""
    import xml.etree.ElementTree as ET

    assert run("config", "set-key", KEY).returncode == 0
    assert run("config", "set-key", "--secret", SECRET).returncode == 0
    assert run("config", "set-sync", "s", "-i", "github", "-m", "Ticket").returncode == 0
    with serving("api", "Nango API on") as api, PyHandler(KEY, api.url, SECRET) as handler:
        assert run("config", "set-url", handler.url).returncode == 0
        assert run("fire", "--sync", "s", "--added", "4").returncode == 0
        before = json.loads(run("--json", "records", "-c", "test-connection-id").stdout)["data"]
        junit = tmp_path / "check.xml"
        done = run("--json", "check", "--junit", str(junit))
        after = json.loads(run("--json", "records", "-c", "test-connection-id").stdout)["data"]
    assert done.returncode == 0, done.stdout
    document = jpayload(done.stdout)
    assert document["connection"].startswith("nango-hooks-check-")
    assert after == before and len(before) == 4  # the user's connection untouched
    checked = {b.get("connectionId") for b in handler.state.seen if b.get("type") == "sync"}
    assert checked == {document["connection"], "test-connection-id"}  # the fire, then check
    root = ET.parse(junit).getroot()
    (suite,) = root.findall("testsuite")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert (
        suite.get("name") == "check" and "fetches-records" in names and root.get("failures") == "0"
    )
