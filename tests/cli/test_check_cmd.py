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
Decide = Callable[[dict, bytes, dict], "int | tuple[int, bytes]"]


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
                decided = decide(headers, body, seen)
            status, answer = decided if isinstance(decided, tuple) else (decided, b"")
            if delay:
                time.sleep(delay)
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

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


# The handlers here answer without fetching: the checks that judge the fetch are left to
# tests/cli/test_verdicts.py, which runs real handlers against the API.
FETCHING = "fetches-records,api-fault"


def _run(cli, url: str, *args: str) -> tuple[int, dict[str, dict]]:
    skip = () if "--only" in args else ("--skip", FETCHING)
    result = cli("--json", "check", url, "--api-port", "0", *skip, *args)
    doc = jpayload(result.stdout)
    return result.exit_code, {c["name"]: c for c in doc["checks"]}


def test_a_correct_handler_passes_everything(cli) -> None:
    from tests.handlers.aiohttp_app import PyHandler

    port = _free_port()
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    with PyHandler(KEY, f"http://127.0.0.1:{port}", SECRET) as real:
        result = cli("--json", "check", real.url, "--api-port", str(port))
        table = cli("check", real.url, "--api-port", str(port))
    assert result.exit_code == 0, result.stdout
    checks = {c["name"]: c for c in jdata(result.stdout)["checks"]}
    assert {name: c["verdict"] for name, c in checks.items()} == dict.fromkeys(checks, "pass")
    # rotation needs a previous key this environment does not have
    assert list(checks) == [
        "sync",
        "sync-error",
        "sync-checkpoints",
        "auth-creation",
        "auth-refresh-failure",
        "auth-refresh-recovery",
        "forward",
        "forward-unmatched",
        "async-action",
        "unknown-type",
        "duplicate",
        "concurrent-models",
        "fetches-records",
        "api-fault",
        "large-body",
        # the forgeries while the connection is live and holds records
        "tampered-body",
        "wrong-key",
        "missing-signature",
        "secret-key",
        "legacy-only",
        "auth-deletion",  # last: the API forgets the connection, as Nango does
    ]
    assert " ms" in checks["sync"]["happened"]
    assert table.exit_code == 0 and "tampered-body" in table.stdout
    # each check listed once, then one summary line; no padding off a terminal
    assert table.stdout.count("tampered-body") == 1
    assert table.stdout.rstrip().splitlines()[-1].startswith("21 passed; end state not judged")
    assert all(line == line.rstrip() for line in table.stdout.splitlines())
    assert "tampered-body" not in table.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    # The forged webhook is a deliberate negative: labelled so, not a red failure
    # (before: every check left "failed after 1" rows for its forgeries).
    assert sorted(r["outcome"] for r in rows) == ["delivered", "rejected as expected (401)"]
    assert jdata(cli("history", "--json", "--failed").stdout) == []


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
    from_project = {s["sync"] for s in listed["syncs"] if s["source"].endswith("nango.yaml")}
    assert from_project == {"github-issues", "hubspot-contacts"}
    human = cli("syncs")
    assert "issues, issue_comment" in human.stdout
    old = cli("--json", "syncs", "--project", str(FIXTURES / "nango-oldest.yaml"))
    old_syncs = jdata(old.stdout)["syncs"]
    assert {s["sync"] for s in old_syncs if s["source"].endswith(".yaml")} == {
        "asana-tasks",
        "slack-users",
    }
    broken = cli("syncs", "--project", str(FIXTURES / "nango-broken.yaml"))
    assert broken.exit_code == 3 and "line" in broken.stderr


OTHER_KEY = "other-environment-key-0123456789abcdef"
SECRET = "nango-secret-key-0123456789abcdef01234567"
PREVIOUS = "previous-signing-key-0123456789abcdef0123"


def _valid_with(key: str, headers: dict, body: bytes) -> bool:
    expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-nango-hmac-sha256", ""), expected)


def test_a_handler_that_rejects_everything_is_not_judged_secure(cli) -> None:
    """Before: against a handler with another key, tampered-body, wrong-key and
    missing-signature passed and legacy-only turned to pass."""

    def other_key(headers: dict, body: bytes, seen: dict):
        if not _valid_with(OTHER_KEY, headers, body):
            return 401, b'{"error":"invalid signature"}\nsecond line'
        return 200

    with handler(other_key) as url:
        result = cli("--json", "check", url, "--api-port", "0", "--skip", FETCHING)
    assert result.exit_code == 9
    checks = {c["name"]: c for c in jpayload(result.stdout)["checks"]}
    for name in ("tampered-body", "wrong-key", "missing-signature", "legacy-only"):
        assert checks[name]["verdict"] == "not judged", name
        assert "signing key" in checks[name]["reason"]
    assert checks["sync"]["verdict"] == "fail"
    # the failed row shows the status and the first line of the answer, not the second
    assert checks["sync"]["happened"].startswith("401 in ")
    assert checks["sync"]["happened"].endswith(': {"error":"invalid signature"}')
    error = json.loads(result.stdout)["error"]
    assert "not judged: tampered-body" in error["message"]
    # one cause for the run, pointing at the key first (before: none, or body-parser
    # advice on the large forward)
    assert "the signing key first" in checks["sync"]["cause"]
    assert "express.json()" not in json.dumps(checks)


def test_404_on_everything_asks_for_the_path(cli) -> None:
    with handler(lambda h, b, s: (404, b"Cannot POST /webhook")) as url:
        code, checks = _run(cli, url, "--only", "sync,auth-creation,large-body")
    assert code == 9
    assert checks["sync"]["verdict"] == "fail"
    assert checks["sync"]["cause"].startswith("every webhook was answered 404: wrong path?")
    assert checks["sync"]["answer"] == "Cannot POST /webhook"
    assert checks["large-body"]["fix"] is None  # not a 413: no body-parser advice


def test_failed_rows_name_their_webhook(cli) -> None:
    def refuses(headers: dict, body: bytes, seen: dict):
        return 422, b"missing field endUser\n  at handler.js:12"

    with handler(refuses) as url:
        human = cli("check", url, "--only", "sync,wrong-key", "--api-port", "0")
        ids = [r["id"] for r in jdata(cli("history", "--json").stdout)]
    assert human.exit_code == 9
    assert "422 in" in human.stdout and "missing field endUser" in human.stdout
    assert "handler.js" not in human.stdout
    sync_row = next(line for line in human.stdout.splitlines() if line.lstrip().startswith("sync"))
    assert any(i[:8] in sync_row for i in ids)
    assert "not judged  every correctly signed webhook was refused" in human.stdout


def test_only_security_checks_send_a_control_webhook(cli) -> None:
    with handler(correct) as url:
        code, checks = _run(cli, url, "--only", "wrong-key")
    assert code == 0 and checks["wrong-key"]["verdict"] == "pass"
    rows = jdata(cli("history", "--json").stdout)
    assert sorted(r["outcome"] for r in rows) == ["delivered", "rejected as expected (401)"]
    with handler(lambda h, b, s: 401) as url:
        code, checks = _run(cli, url, "--only", "wrong-key")
    assert code == 9 and checks["wrong-key"]["verdict"] == "not judged"


def test_a_handler_verifying_with_the_secret_key_is_diagnosed(cli) -> None:
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0

    def secret(headers: dict, body: bytes, seen: dict) -> int:
        return 200 if _valid_with(SECRET, headers, body) else 401

    with handler(secret) as url:
        code, checks = _run(cli, url)
    assert code == 9
    # It acted on a webhook Nango never sends: a failure whatever the control says.
    assert checks["secret-key"]["verdict"] == "fail"
    assert "API secret key" in checks["secret-key"]["happened"]
    assert checks["wrong-key"]["verdict"] == "not judged"
    assert "verifies with the secret key" in checks["wrong-key"]["reason"]
    with handler(correct) as url:
        code, checks = _run(cli, url, "--only", "sync,secret-key")
    assert code == 0 and checks["secret-key"]["verdict"] == "pass"


def test_rotation_needs_both_keys_accepted(cli) -> None:
    only_rotation = cli(
        "--json", "check", "http://127.0.0.1:9/", "--only", "rotation", "--api-port", "0"
    )
    assert only_rotation.exit_code == 2
    assert cli("config", "set-key", PREVIOUS).exit_code == 0
    assert cli("config", "set-key", "--rotate", KEY).exit_code == 0

    def both(headers: dict, body: bytes, seen: dict) -> int:
        ok = _valid_with(KEY, headers, body) or _valid_with(PREVIOUS, headers, body)
        return 200 if ok else 401

    with handler(both) as url:
        code, checks = _run(cli, url, "--only", "sync,rotation")
    assert code == 0 and checks["rotation"]["verdict"] == "pass"
    with handler(correct) as url:  # the current key only
        code, checks = _run(cli, url, "--only", "sync,rotation")
    assert code == 9 and checks["rotation"]["verdict"] == "fail"
    assert checks["rotation"]["happened"].startswith("401")


def test_auth_creation_carries_an_end_user_unless_told(cli) -> None:
    def needs_end_user(headers: dict, body: bytes, seen: dict) -> int:
        data = json.loads(body)
        if data.get("type") == "auth" and data.get("operation") == "creation":
            seen.setdefault("end_users", []).append(data.get("endUser"))
            return 200 if data.get("endUser", {}).get("endUserId") else 400
        return 200

    with handler(needs_end_user) as url:
        code, checks = _run(cli, url, "--only", "auth-creation")
        assert code == 0
        code, checks = _run(cli, url, "--only", "auth-creation", "--no-end-user")
        assert code == 9 and checks["auth-creation"]["happened"].startswith("400")


def test_a_body_size_limit_is_a_warning_that_names_the_fix(cli) -> None:
    def limited(headers: dict, body: bytes, seen: dict):
        if len(body) > 100 * 1024:
            return 413, b"PayloadTooLargeError: request entity too large"
        return correct(headers, body, seen)

    with handler(limited) as url:
        code, checks = _run(cli, url, "--only", "forward,large-body")
    assert code == 0  # optional
    large = checks["large-body"]
    assert large["verdict"] == "warn" and large["happened"].startswith("413")
    assert "express.json()" in large["happened"] and "100kb" in large["happened"]
    shown = jdata(cli("--json", "history", "show", large["webhook_ids"][0]).stdout)
    assert shown["type"] == "forward" and len(shown["body"]) > 1_000_000


def test_nothing_listening_is_one_error(cli) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("--json", "check", f"http://127.0.0.1:{port}/webhooks", "--api-port", "0")
    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["message"] == f"nothing is listening at http://127.0.0.1:{port}/webhooks"
    human = cli("check", f"http://127.0.0.1:{port}/webhooks", "--api-port", "0")
    assert human.exit_code == 4 and human.stdout == ""
    assert human.stderr.count("error:") == 1 and "refused" not in human.stderr


def test_failures_that_would_open_the_circuit_breaker_are_warned_about(cli) -> None:
    with handler(lambda h, b, s: 503) as url:
        code, checks = _run(cli, url, "--skip", "tampered-body,wrong-key,missing-signature")
    assert code == 9
    breaker = checks["circuit-breaker"]
    assert breaker["verdict"] == "warn"
    assert "would have opened Nango's circuit breaker" in breaker["happened"]
    assert "60s" in breaker["why"] and "every connection" in breaker["why"]
    rows = {r["id"]: r for r in jdata(cli("history", "--json", "-n", "100").stdout)}
    opener = rows[breaker["webhook_ids"][0]]
    # the 6th genuine webhook opened it: sync, sync-error, the three sync-checkpoints
    # webhooks, then auth-creation's
    assert opener["type"] == "auth"
    assert breaker["webhook_ids"][0] == checks["auth-creation"]["webhook_ids"][0]
    with handler(correct) as url:
        code, checks = _run(cli, url)
    assert "circuit-breaker" not in checks


def test_check_forgeries_are_deliberate_negatives(cli) -> None:
    with handler(correct) as url:
        _run(cli, url, "--only", "sync,wrong-key,missing-signature")
    rows = jdata(cli("history", "--json").stdout)
    assert sum(1 for r in rows if r["negative"]) == 2
    result = cli("replay", "--failed")
    assert result.exit_code == 6 and "no webhooks to replay" in result.stderr


def test_an_api_whose_token_is_unknown_runs_no_fetch_checks_and_says_so(cli) -> None:
    """The fetch checks play faults on the API (short pages, a failed read); an API
    named with --api that is not the one running here cannot take them: they are left
    out, with a warning, instead of failing the run on a fault it cannot set."""
    with handler(correct) as url:
        result = cli("--json", "check", url, "--api", "http://127.0.0.1:9")
    checks = {c["name"] for c in jpayload(result.stdout)["checks"]}
    assert result.exit_code == 0, result.stdout
    assert not checks & {"fetches-records", "api-fault"}
    assert "fetches-records and api-fault not run" in result.stderr
    only = cli(
        "--json",
        "check",
        "http://127.0.0.1:9/",
        "--only",
        "api-fault",
        "--api",
        "http://127.0.0.1:9",
    )
    assert only.exit_code == 2
    assert "internal token is not known" in json.loads(only.stdout)["error"]["message"]


def test_summary_md_for_any_ci(cli, tmp_path: Path) -> None:
    written = tmp_path / "check.md"
    with handler(correct) as url:
        code, _ = _run(cli, url, "--only", "sync,wrong-key", "--summary-md", str(written))
    assert code == 0
    text = written.read_text()
    assert text.startswith("### nango-hooks check")
    assert "| ✅ | sync |" in text and "| ✅ | wrong-key |" in text
