"""`listen` as a real subprocess on an ephemeral port, driven with real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nango_cli.protocol import bodies, serialization, signatures, vocabulary
from tests.conftest import KEY, ROOT, jdata, run
from tests.listening import listening
from tests.receiver import Behaviour, Receiver

OTHER_KEY = "prod-key-aaaaaaaaaaaaaaaa"


def _signed(body_obj: object, key: str = KEY) -> tuple[bytes, dict[str, str]]:
    body = serialization.serialize(body_obj)
    return body, {"content-type": "application/json", **signatures.signature_headers(key, body)}


def _sync_body() -> dict:
    return bodies.sync_success(
        connection_id="c1",
        provider_config_key="github",
        sync_name="github-tickets",
        model="Ticket",
        modified_after="2026-11-26T12:00:00.000Z",
        added=3,
    )


@pytest.fixture
def keyed(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("--env", "prod", "config", "set-key", OTHER_KEY).exit_code == 0


def test_verdicts_for_both_headers_as_ndjson(keyed) -> None:
    body, headers = _signed(_sync_body())
    with listening("--json", "--count", "6") as lst:
        with httpx.Client() as client:
            assert client.post(lst.url, content=body, headers=headers).status_code == 200
            _, other = _signed(_sync_body(), OTHER_KEY)
            client.post(lst.url, content=body, headers=other)
            pretty = json.dumps(_sync_body(), indent=2).encode()
            client.post(lst.url, content=pretty, headers=headers)
            client.post(lst.url, content=body, headers={"content-type": "application/json"})
            legacy = {vocabulary.LEGACY_HEADER: signatures.legacy_signature(KEY, body)}
            client.post(lst.url, content=body, headers=legacy)
            client.post(lst.url, content=body + b"\n", headers=headers)
        code, out, err = lst.finish()
    assert code == 0, err
    events = lst.events(out)  # every stdout line is one JSON object
    assert len(events) == 6
    by_verdict = [e["signature"]["verdict"] for e in events]
    assert by_verdict == ["valid", "invalid", "invalid", "missing", "legacy-only", "invalid"]
    assert events[0]["signature"]["legacy"]["state"] == "valid"
    assert events[0]["type"] == "sync" and events[0]["counts"]["added"] == 3
    assert "different key" in events[1]["signature"]["hmac"]["reason"]
    assert "re-serialized" in events[2]["signature"]["hmac"]["reason"]
    assert events[3]["signature"]["legacy"]["state"] == "missing"
    assert events[4]["signature"]["legacy"]["state"] == "valid"
    assert "newline" in events[5]["signature"]["hmac"]["reason"]
    assert "received 6 webhook(s): 1 valid, 5 not valid (count)" in err


def test_ndjson_to_a_file_is_written_in_order(keyed, home, tmp_path) -> None:
    """Output to a regular file is written directly (it cannot stall the listener),
    not through the output thread: every line arrives, in the order received, and
    names the stored row."""
    out_path = tmp_path / "out.ndjson"
    with (
        out_path.open("wb") as out_file,
        listening("--json", "--count", "5", stdout=out_file) as lst,
    ):
        with httpx.Client() as client:
            for i in range(5):
                body, headers = _signed({**_sync_body(), "connectionId": f"conn-{i}"})
                assert client.post(lst.url, content=body, headers=headers).status_code == 200
        assert lst.proc.wait(20) == 0
    events = lst.events(out_path.read_text())
    assert [e["connection_id"] for e in events] == [f"conn-{i}" for i in range(5)]
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    stored = dict(db.execute("SELECT id, connection_id FROM webhooks"))
    assert {e["id"]: e["connection_id"] for e in events} == stored


def test_no_key_configured_is_reported(home) -> None:
    body, headers = _signed(_sync_body())
    with listening("--json", "--count", "1") as lst:
        httpx.post(lst.url, content=body, headers=headers)
        code, out, err = lst.finish()
    assert code == 0 and "no signing key" in err
    assert lst.events(out)[0]["signature"]["hmac"]["state"] == "no-key"


def test_human_lines_and_schema_notes(keyed) -> None:
    body, headers = _signed(_sync_body())
    with listening("--count", "3", "--verbose") as lst:
        httpx.post(lst.url, content=body, headers=headers)
        httpx.post(lst.url, content=b'{"type":"sync","from":"nango"}', headers=headers)
        httpx.post(lst.url, content=b'{"type":"brand_new","from":"nango"}')
        code, out, _err = lst.finish()
    assert code == 0
    first, *_rest = out.splitlines()
    assert "sync github-tickets/Ticket" in first and "c1 +3 ~0 -0" in first and "✓ valid" in first
    assert "problem: missing field connectionId" in out
    assert "unknown type 'brand_new'" in out
    assert "warning: syncType is deprecated" in out  # --verbose shows warnings too
    assert '"syncName": "github-tickets"' in out  # pretty body


def test_answers_as_told(keyed) -> None:
    body, headers = _signed(_sync_body())
    with listening("--fail-first", "2", "--status", "202", "--count", "3") as lst:
        codes = [httpx.post(lst.url, content=body, headers=headers).status_code for _ in range(3)]
        assert lst.finish()[0] == 0
    assert codes == [500, 500, 202]
    with listening("--delay", "0.4", "--count", "1") as lst:
        start = time.monotonic()
        httpx.post(lst.url, content=body, headers=headers)
        assert time.monotonic() - start >= 0.4
        lst.finish()
    with listening("--reject-invalid", "--count", "2") as lst:
        assert httpx.post(lst.url, content=body, headers=headers).status_code == 200
        assert httpx.post(lst.url, content=body, headers={}).status_code == 401
        lst.finish()


def test_nango_retries_against_fail_first_are_all_stored(keyed, cli) -> None:
    with listening("--fail-first", "2", "--count", "3") as lst:
        result = cli("fire", "--sync", "s", "-i", "s", "-m", "S", "--url", lst.url)
        assert result.exit_code == 0 and result.stderr.count("#") == 3
        lst.finish()
    received = jdata(cli("history", "--json", "--received").stdout)
    assert len(received) == 3 and {r["outcome"] for r in received} == {"received ✓ signature"}


def test_path_filter_and_methods(keyed) -> None:
    body, headers = _signed(_sync_body())
    with listening("--path", "/hooks", "--count", "1") as lst:
        base = lst.url.rsplit("/hooks", 1)[0]
        assert httpx.post(base + "/other", content=body, headers=headers).status_code == 404
        assert httpx.get(lst.url).status_code == 405
        assert httpx.post(lst.url, content=body, headers=headers).status_code == 200
        assert lst.finish()[0] == 0


def test_forward_to_proxies_unchanged_and_answers_with_the_apps_response(keyed) -> None:
    body, headers = _signed(_sync_body())
    with Receiver() as app:
        app.then(Behaviour(status=418, body=b'{"teapot":true}'))
        with listening("--forward-to", app.url, "--count", "1") as lst:
            response = httpx.post(lst.url, content=body, headers=headers)
            _code, out, _ = lst.finish()
        assert (response.status_code, response.content) == (418, b'{"teapot":true}')
        (proxied,) = app.requests
        assert proxied.body == body
        lowered = {k.lower(): v for k, v in proxied.headers.items()}
        assert lowered["x-nango-hmac-sha256"] == headers[vocabulary.HMAC_HEADER]
        assert lowered["x-nango-signature"] == headers[vocabulary.LEGACY_HEADER]
        assert "→ " + app.url + " 418" in out and "teapot" in out


def test_forward_to_an_app_that_is_down_answers_502(keyed) -> None:
    with listening("--forward-to", "http://127.0.0.1:9/", "--count", "1") as lst:
        body, headers = _signed(_sync_body())
        assert httpx.post(lst.url, content=body, headers=headers).status_code == 502
        lst.finish()


def test_timeout_count_and_require_valid_exit_codes(keyed) -> None:
    with listening("--count", "2", "--timeout", "0.5") as lst:
        code, _, err = lst.finish()
    assert code == 7 and "0 of 2" in err
    with listening("--timeout", "0.3") as lst:
        assert lst.finish()[0] == 0  # a timeout without --count is just a duration
    with listening("--require-valid", "--count", "5") as lst:
        httpx.post(lst.url, content=b"{}", headers={})
        code, _, err = lst.finish()
    assert code == 5 and "--require-valid" in err


def test_ci_usage_in_the_background(keyed, tmp_path: Path) -> None:
    out_file = tmp_path / "got.json"
    script = (
        f'"{sys.executable}" -m nango_cli listen --port 0 --count 1 --timeout 30 --json '
        f'> "{out_file}" 2> "{tmp_path}/err" &\n'
        f'for i in $(seq 100); do grep -q "Listening on" "{tmp_path}/err" && break; '
        "sleep 0.1; done\n"
        f'url=$(grep -o "http://[^ ]*" "{tmp_path}/err" | head -1)\n'
        f'"{sys.executable}" -m nango_cli fire --sync github-tickets -i github -m Ticket '
        '--url "$url" >/dev/null\n'
        "wait $!\n"
    )
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, timeout=60, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    (event,) = [jdata(line) for line in out_file.read_text().splitlines()]
    assert event["sync_name"] == "github-tickets" and event["signature"]["verdict"] == "valid"


def test_hostile_payloads_are_shown_safely_and_the_listener_survives(keyed) -> None:
    nasty = [
        b'{"type":"sync","syncName":"\\u001b[31mred\\u001b]0;pwned\\u0007","model":"[bold]x[/bold]"}',
        b"\x1b[2J\x1b]0;title\x07 not json \xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"type": "auth", "provider": "\xc2\x9b31m"}',
    ]
    with listening("--count", "5", "--max-body", "1MB") as lst:
        for body in nasty:
            assert httpx.post(lst.url, content=body).status_code == 200
        big = httpx.post(lst.url, content=b"x" * (2 * 1024 * 1024))
        assert big.status_code == 413
        body, headers = _signed(_sync_body())
        assert httpx.post(lst.url, content=body, headers=headers).status_code == 200
        code, out, err = lst.finish()
    assert code == 0, err
    for forbidden in ("\x1b", "\x07", "\x9b"):
        assert forbidden not in out and forbidden not in err
    assert "[bold]x[/bold]" in out  # shown literally, not interpreted


def test_malformed_http_gets_4xx_and_the_listener_keeps_serving(keyed) -> None:
    with listening("--count", "1") as lst:
        host, port = lst.url.split("//")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            assert sock.recv(100).split(b" ")[1].startswith(b"4")
        # a client that connects and says nothing does not block others
        idle = socket.create_connection((host, int(port)), timeout=5)
        body, headers = _signed(_sync_body())
        assert httpx.post(lst.url, content=body, headers=headers, timeout=5).status_code == 200
        idle.close()
        assert lst.finish()[0] == 0


def test_port_in_use_is_a_clear_error(home) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run("listen", "--port", str(port), timeout=30)
    assert proc.returncode == 8
    assert f"port {port} is already in use" in proc.stderr and "Traceback" not in proc.stderr


def test_non_loopback_bind_warns(home) -> None:
    with listening("--host", "0.0.0.0", "--timeout", "0.2") as lst:
        _, _, err = lst.finish()
    assert "not loopback" in err


def test_ctrl_c_stops_cleanly_and_keeps_everything(keyed, cli) -> None:
    body, headers = _signed(_sync_body())
    with listening() as lst:
        for _ in range(3):
            httpx.post(lst.url, content=body, headers=headers)
        lst.proc.send_signal(signal.SIGINT)
        code, _, err = lst.finish()
    assert code == 130
    assert "received 3 webhook(s): 3 valid, 0 not valid (interrupted)" in err
    assert len(jdata(cli("history", "--json", "--received").stdout)) == 3


def test_received_webhooks_replay_to_the_app(keyed, cli) -> None:
    body, headers = _signed(_sync_body())
    with listening("--count", "1") as lst:
        httpx.post(lst.url, content=body, headers={**headers, "X-Extra": "kept"})
        lst.finish()
    (row,) = jdata(cli("history", "--json", "--received").stdout)
    with Receiver() as app:
        assert cli("replay", row["id"], "--to", app.url).exit_code == 0
        (replayed,) = app.requests
    assert replayed.body == body
    lowered = {k.lower(): v for k, v in replayed.headers.items()}
    assert lowered["x-nango-hmac-sha256"] == headers[vocabulary.HMAC_HEADER]
    assert lowered["x-extra"] == "kept"


def test_external_webhook_is_forwarded_as_nango_would(keyed, cli) -> None:
    external = b'{"action":"opened","issue":{"number":7}}'
    assert cli("config", "set-sync", "github-issues", "-m", "GithubIssue").exit_code == 0
    with Receiver() as app:
        with listening(
            "--external",
            "github",
            "-i",
            "github-prod",
            "-c",
            "conn-1",
            "--forward-to",
            app.url,
            "--trigger-sync",
            "github-issues",
            "--count",
            "1",
        ) as lst:
            response = httpx.post(
                lst.url,
                content=external,
                headers={
                    "X-GitHub-Event": "issues",
                    "X-Hub-Signature-256": "sha256=abc",
                    "Authorization": "token secret",
                    "User-Agent": "GitHub-Hookshot/1",
                    "Content-Type": "application/json",
                },
            )
            code, _out, err = lst.finish()
        assert response.status_code == 200 and code == 0, err
        forward, sync = sorted(app.requests, key=lambda r: json.loads(r.body)["type"])
    assert json.loads(forward.body) == {
        "from": "github",
        "type": "forward",
        "providerConfigKey": "github-prod",
        "connectionId": "conn-1",
        "payload": {"action": "opened", "issue": {"number": 7}},
    }
    lowered = {k.lower(): v for k, v in forward.headers.items()}
    assert lowered["x-github-event"] == "issues" and lowered["x-hub-signature-256"] == "sha256=abc"
    assert "authorization" not in lowered and lowered["user-agent"].startswith("nango/")
    assert (
        lowered["x-nango-hmac-sha256"]
        == hmac.new(KEY.encode(), forward.body, hashlib.sha256).hexdigest()
    )
    sync_body = json.loads(sync.body)
    assert sync_body["syncType"] == "WEBHOOK" and sync_body["syncName"] == "github-issues"
    assert sync_body["connectionId"] == "conn-1"
    rows = jdata(cli("history", "--json").stdout)
    assert {r["direction"] for r in rows} == {"sent", "received"} and len(rows) == 3
    # The sync webhook announced one added record: the API holds it for that connection
    # (before: the webhook went out with no record behind it, and a handler fetching
    # got 400 unknown_connection).
    (record,) = jdata(cli("records", "--json", "--connection", "conn-1").stdout)
    assert record["model"] == "GithubIssue" and record["provider_config_key"] == "github-prod"
    assert record["_nango_metadata"]["last_action"] == "ADDED"
    assert sync_body["modifiedAfter"] <= record["_nango_metadata"]["last_modified_at"]


def test_the_tools_own_error_is_answered_with_its_message_not_500(keyed, cli, home) -> None:
    """A sync removed from the config while `listen --external --trigger-sync` runs:
    the listener answers as every server does, 404 with what is unknown and the fix,
    and says so at the terminal (before: 500 "listener failed (NotFoundError)", the
    cause nowhere). The webhook before the edit, the control, was answered 200."""
    assert cli("config", "set-sync", "github-issues", "-m", "GithubIssue").exit_code == 0
    webhook = b'{"action":"opened"}'
    json_type = {"Content-Type": "application/json"}
    args = ["--external", "github", "-i", "github-prod", "-c", "conn-1", "--forward-to"]
    with Receiver() as app, listening(*args, app.url, "--trigger-sync", "github-issues") as lst:
        accepted = httpx.post(lst.url, content=webhook, headers=json_type)
        config = home / "config.toml"
        config.write_text(config.read_text().split("[syncs")[0])
        refused = httpx.post(lst.url, content=webhook, headers=json_type)
        lst.proc.send_signal(signal.SIGINT)
        _code, _out, err = lst.finish()
    assert accepted.status_code == 200, err
    assert refused.status_code == 404, refused.text
    message = refused.json()["error"]
    assert "unknown sync 'github-issues'" in message and "nango-hooks syncs" in message
    assert "answered 404: unknown sync 'github-issues'" in err
    assert "failed" not in err


def test_default_body_cap_is_5_mb(keyed) -> None:
    with listening("--count", "1") as lst:
        too_big = httpx.post(lst.url, content=b"x" * (5 * 1024 * 1024 + 1))
        assert too_big.status_code == 413
        just_fits = httpx.post(lst.url, content=b"y" * (5 * 1024 * 1024))
        assert just_fits.status_code == 200
        code, out, _ = lst.finish()
    assert code == 0 and "5242880 B" in out


def test_ctrl_c_under_concurrent_load_is_prompt_and_loses_nothing(keyed, home: Path) -> None:
    """SIGINT while 20 clients are posting: exits within seconds (not aiohttp's 60 s
    shutdown timeout) and every request answered 2xx is in the store."""
    import threading

    body, headers = _signed(_sync_body())
    answered_ok = []
    stop = threading.Event()

    def client(url: str) -> None:
        with httpx.Client(timeout=5) as session:
            while not stop.is_set():
                try:
                    if session.post(url, content=body, headers=headers).status_code == 200:
                        answered_ok.append(1)
                except httpx.HTTPError:
                    return  # the listener went away

    with listening() as lst:
        threads = [threading.Thread(target=client, args=(lst.url,)) for _ in range(20)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        lst.proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        code, _, err = lst.finish(timeout=30)
        elapsed = time.monotonic() - start
        stop.set()
        for thread in threads:
            thread.join(10)
    assert code == 130 and elapsed < 10, err
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    stored = db.execute("SELECT count(*) FROM webhooks").fetchone()[0]
    assert answered_ok and stored >= len(answered_ok)
    assert f"received {stored} webhook(s)" in err


def test_listen_ui_serves_the_inspector_on_the_ui_port_setting(cli) -> None:
    """Before: `listen --ui` served it on 3458 whatever the ui_port setting said."""
    from tests.listening import serving
    from tests.receiver import free_port

    port = free_port()
    assert cli("config", "set", "ui_port", str(port)).exit_code == 0
    with serving("listen", "Listening on", "--ui") as server:
        deadline = time.monotonic() + 10
        while "Inspector on" not in server.err_path.read_text():
            assert time.monotonic() < deadline, server.err_path.read_text()
            time.sleep(0.05)
        assert f"Inspector on http://127.0.0.1:{port}" in server.err_path.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
