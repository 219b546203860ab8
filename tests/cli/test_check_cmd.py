"""`check` against real loopback handlers: a correct one and one per common mistake."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import KEY, jdata, jpayload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
Decide = Callable[[dict, bytes, dict], int]


@contextmanager
def handler(decide: Decide, delay: float = 0.0) -> Iterator[str]:
    """A webhook handler: `decide(headers, body, seen)` returns the status to answer."""
    seen: dict = {"bodies": set()}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status = decide(headers, body, seen)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    finally:
        server.shutdown()
        server.server_close()


def _valid(headers: dict, body: bytes) -> bool:
    expected = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-nango-hmac-sha256", ""), expected)


def correct(headers: dict, body: bytes, seen: dict) -> int:
    if not _valid(headers, body):
        return 401
    seen["bodies"].add(body)  # dedupe: a duplicate is acknowledged, not processed twice
    return 200


def no_verification(headers: dict, body: bytes, seen: dict) -> int:
    return 200


def crashes_on_unknown_types(headers: dict, body: bytes, seen: dict) -> int:
    if not _valid(headers, body):
        return 401
    kind = json.loads(body)["type"]
    return 200 if kind in ("sync", "auth", "forward", "async_action") else 500


def rejects_duplicates(headers: dict, body: bytes, seen: dict) -> int:
    if not _valid(headers, body):
        return 401
    if body in seen["bodies"]:
        return 500
    seen["bodies"].add(body)
    return 200


def trusts_legacy(headers: dict, body: bytes, seen: dict) -> int:
    legacy = hashlib.sha256(KEY.encode() + body).hexdigest()
    if _valid(headers, body) or headers.get("x-nango-signature") == legacy:
        return 200
    return 403


@pytest.fixture(autouse=True)
def key(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0


def _run(cli, url: str, *args: str) -> tuple[int, dict[str, dict]]:
    result = cli("--json", "check", url, *args)
    doc = jpayload(result.stdout)
    return result.exit_code, {c["name"]: c for c in doc["checks"]}


def test_a_correct_handler_passes_everything(cli) -> None:
    with handler(correct) as url:
        code, checks = _run(cli, url)
    assert code == 0
    assert {name: c["verdict"] for name, c in checks.items()} == dict.fromkeys(checks, "pass")
    assert len(checks) == 13
    assert " ms" in checks["sync"]["happened"]
    table = None
    with handler(correct) as url:
        table = cli("check", url)
    assert table.exit_code == 0 and "tampered-body" in table.stdout


def test_a_handler_that_does_not_verify_fails_the_signature_checks(cli) -> None:
    with handler(no_verification) as url:
        code, checks = _run(cli, url)
    assert code == 9
    for name in ("tampered-body", "wrong-key", "missing-signature"):
        assert checks[name]["verdict"] == "fail"
        assert "does not verify signatures" in checks[name]["happened"]
    assert checks["legacy-only"]["verdict"] == "warn"  # optional: a warning, not a failure
    assert checks["sync"]["verdict"] == "pass"


def test_a_handler_that_crashes_on_unknown_types(cli) -> None:
    with handler(crashes_on_unknown_types) as url:
        code, checks = _run(cli, url, "--retry-policy", "server")
    assert code == 9
    unknown = checks["unknown-type"]
    assert unknown["verdict"] == "fail" and unknown["happened"].startswith("500")
    assert "retry 2 time(s), after 3s, 6s" in unknown["nango_would"]
    assert checks["sync"]["verdict"] == "pass"


def test_a_handler_that_rejects_duplicates(cli) -> None:
    with handler(rejects_duplicates) as url:
        code, checks = _run(cli, url, "--only", "duplicate,sync")
    assert code == 9 and set(checks) == {"sync", "duplicate"}
    assert checks["duplicate"]["verdict"] == "fail"
    assert checks["duplicate"]["happened"].split("; ")[1].startswith("500")


def test_a_slow_handler_times_out(cli) -> None:
    with handler(correct, delay=1.0) as url:
        code, checks = _run(cli, url, "--only", "sync", "--timeout", "0.3")
    assert code == 9
    assert checks["sync"]["happened"].startswith("timeout")
    assert "would retry" in checks["sync"]["nango_would"]


def test_a_legacy_trusting_handler_only_warns(cli) -> None:
    with handler(trusts_legacy) as url:
        code, checks = _run(cli, url, "--skip", "concurrent-models")
    assert code == 0 and checks["legacy-only"]["verdict"] == "warn"
    assert "concurrent-models" not in checks


def test_check_deliveries_are_in_history(cli) -> None:
    with handler(correct) as url:
        _run(cli, url, "--only", "sync,wrong-key")
    rows = jdata(cli("history", "--json").stdout)
    assert len(rows) == 2 and {r["outcome"] for r in rows} == {"delivered", "failed after 1"}


def test_check_usage_and_config_errors(cli) -> None:
    assert cli("check", "--only", "nope").exit_code == 2
    assert cli("check").exit_code == 3  # no URL configured
    assert cli("check", "not a url").exit_code == 2


def test_check_learns_models_from_nango_yaml(cli, tmp_path: Path, monkeypatch) -> None:
    shutil.copy(FIXTURES / "nango.yaml", tmp_path / "nango.yaml")
    monkeypatch.chdir(tmp_path)
    with handler(correct) as url:
        code, _ = _run(cli, url, "--only", "concurrent-models", "--sync", "github-issues")
    assert code == 0
    rows = jdata(cli("history", "--json").stdout)
    assert {r["model"] for r in rows} == {"GithubIssue", "GithubComment"}
    assert {r["provider_config_key"] for r in rows} == {"github-prod"}


def test_fire_and_syncs_use_nango_yaml(cli, tmp_path: Path, monkeypatch, configured) -> None:
    (tmp_path / "nango-integrations").mkdir()
    shutil.copy(FIXTURES / "nango.yaml", tmp_path / "nango-integrations" / "nango.yaml")
    monkeypatch.chdir(tmp_path)
    result = cli("fire", "--sync", "github-issues")
    assert result.exit_code == 0 and "nango.yaml" in result.stderr
    bodies = [json.loads(r.body) for r in configured.requests]
    assert {b["model"] for b in bodies} == {"GithubIssue", "GithubComment"}
    assert {b["providerConfigKey"] for b in bodies} == {"github-prod"}
    # explicit flags win over nango.yaml
    assert cli("fire", "--sync", "github-issues", "-m", "Only", "-i", "gh").exit_code == 0
    last = json.loads(configured.requests[-1].body)
    assert (last["model"], last["providerConfigKey"]) == ("Only", "gh")
    listed = jdata(cli("--json", "syncs").stdout)
    assert {s["sync"] for s in listed["syncs"]} == {"github-issues", "hubspot-contacts"}
    human = cli("syncs")
    assert "issues, issue_comment" in human.stdout
    old = cli("--json", "syncs", "--project", str(FIXTURES / "nango-oldest.yaml"))
    assert {s["sync"] for s in jdata(old.stdout)["syncs"]} == {"asana-tasks", "slack-users"}
    broken = cli("syncs", "--project", str(FIXTURES / "nango-broken.yaml"))
    assert broken.exit_code == 3 and "line" in broken.stderr
