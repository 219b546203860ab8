"""`fire` end to end: the real app (in-process and as a subprocess) against real receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nango_cli.support.paths import Directories
from tests.conftest import KEY, ROOT, define_syncs, jdata, jerror, run
from tests.receiver import Behaviour, Receiver, free_port

# `fire` for sync "s" without a config describing it
FIRE_S = ("--sync", "s", "-i", "s", "-m", "S")


def _verify(request) -> None:
    """An independent check of both signature headers (not nango_cli.protocol.signatures)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert (
        headers["x-nango-hmac-sha256"]
        == hmac.new(KEY.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert headers["x-nango-signature"] == hashlib.sha256(KEY.encode() + request.body).hexdigest()
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("nango/")


def _db(home: Path) -> sqlite3.Connection:
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def test_fire_sync_sends_one_signed_webhook_per_model(cli, configured: Receiver, home) -> None:
    result = cli(
        "fire",
        "--sync",
        "github-tickets",
        "-i",
        "github",
        "-c",
        "conn-1",
        "-m",
        "Ticket",
        "-m",
        "Comment",
        "--added",
        "Ticket=3",
        "--deleted",
        "2",
        "--initial",
        "--modified-after",
        "2026-11-01T10:00:00Z",
    )
    assert result.exit_code == 0, result.stderr
    assert len(configured.requests) == 2
    bodies = {}
    for request in configured.requests:
        _verify(request)
        body = json.loads(request.body)
        bodies[body["model"]] = body
        assert request.body == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert bodies["Ticket"]["responseResults"] == {"added": 3, "updated": 0, "deleted": 2}
    # Counts given per model: a model not named adds none (before: the default +1).
    assert bodies["Comment"]["responseResults"] == {"added": 0, "updated": 0, "deleted": 2}
    ticket = bodies["Ticket"]
    assert ticket["syncType"] == "INITIAL" and ticket["connectionId"] == "conn-1"
    assert ticket["modifiedAfter"] == ticket["queryTimeStamp"] == "2026-11-01T10:00:00.000Z"
    # stdout: one line per webhook with its id; stderr: the attempts
    ids = [line.split()[0] for line in result.stdout.splitlines()]
    assert len(ids) == 2 and "#1 200" in result.stderr
    rows = _db(home).execute("SELECT id, status, body, attempt_count FROM webhooks").fetchall()
    assert {r["id"] for r in rows} == set(ids)
    assert all(r["status"] == "delivered" and r["attempt_count"] == 1 for r in rows)
    assert {bytes(r["body"]) for r in rows} == {r.body for r in configured.requests}


def test_sync_defaults_come_from_the_sync_table(cli, configured: Receiver) -> None:
    cli("config", "set-sync", "github-tickets", "-i", "gh-prod", "-m", "Issue")
    cli("config", "set", "connection_id", "c-9")
    result = cli("fire", "--sync", "github-tickets")
    assert result.exit_code == 0 and "note:" not in result.stderr
    body = json.loads(configured.requests[0].body)
    assert (body["providerConfigKey"], body["model"], body["connectionId"]) == (
        "gh-prod",
        "Issue",
        "c-9",
    )


def test_an_unknown_sync_is_an_error_with_did_you_mean(cli, configured: Receiver) -> None:
    """Before: an unknown sync fired with an integration and model guessed from its name,
    exit 0."""
    result = cli("--json", "fire", "--sync", "github-tikets")
    assert result.exit_code == 6 and configured.requests == []
    error = json.loads(result.stdout)["error"]
    assert error["message"].startswith("unknown sync 'github-tikets'")
    assert "did you mean 'github-tickets'?" in error["hint"]
    # both --integration and --model say what to send: no project needed
    assert cli("fire", "--sync", "brand-new", "-i", "github", "-m", "Issue").exit_code == 0
    body = json.loads(configured.requests[0].body)
    assert (body["syncName"], body["providerConfigKey"], body["model"]) == (
        "brand-new",
        "github",
        "Issue",
    )
    assert cli("fire", "--sync", "brand-new", "-i", "github").exit_code == 6


def test_sync_error(cli, configured: Receiver) -> None:
    result = cli(
        "fire",
        "--sync",
        "s",
        "-i",
        "p",
        "-m",
        "A",
        "-m",
        "B",
        "--failed",
        "--error-message",
        "rate limited",
    )
    assert result.exit_code == 0
    (request,) = configured.requests
    body = json.loads(request.body)
    assert body["success"] is False and body["model"] == "A,B"
    assert body["error"] == {"type": "script_error", "description": "rate limited"}


def test_auth_forward_async_and_raw_body(cli, configured: Receiver, tmp_path: Path) -> None:
    assert (
        cli(
            "fire",
            "--auth",
            "creation",
            "-i",
            "github",
            "--end-user-id",
            "u1",
            "--tag",
            "team=core",
        ).exit_code
        == 0
    )
    auth = json.loads(configured.requests[-1].body)
    assert auth["type"] == "auth" and auth["environment"] == "dev"
    assert auth["endUser"] == {"endUserId": "u1", "tags": {"team": "core"}}

    event = tmp_path / "event.json"
    event.write_text('{"action": "opened", "issue": {"number": 7}}')
    assert (
        cli(
            "fire",
            "--forward",
            str(event),
            "-i",
            "github",
            "-c",
            "c1",
            "-H",
            "X-GitHub-Event: issues",
            "-H",
            "Authorization: token s3cret",
            "-H",
            "Content-Type: text/plain",
        ).exit_code
        == 0
    )
    request = configured.requests[-1]
    forward = json.loads(request.body)
    assert forward == {
        "from": "github",
        "type": "forward",
        "providerConfigKey": "github",
        "connectionId": "c1",
        "payload": {"action": "opened", "issue": {"number": 7}},
    }
    assert request.headers["X-GitHub-Event"] == "issues"
    assert "Authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"  # Nango's own header wins
    _verify(request)

    assert cli("fire", "--forward", str(event), "-i", "github", "--unmatched").exit_code == 0
    assert json.loads(configured.requests[-1].body) == {"action": "opened", "issue": {"number": 7}}

    assert cli("fire", "--async-action", "-i", "github", "--action-id", "a1").exit_code == 0
    assert json.loads(configured.requests[-1].body)["payload"] == {
        "id": "a1",
        "statusUrl": "/action/a1",
    }

    raw = tmp_path / "raw.json"
    raw.write_bytes(b'{ "z": 1,\n  "a": "pretty, unsorted" }\n')
    assert cli("fire", "--body", str(raw)).exit_code == 0
    assert configured.requests[-1].body == raw.read_bytes()  # as-is, byte for byte
    _verify(configured.requests[-1])


def test_set_overrides_fields(cli, configured: Receiver) -> None:
    result = cli(
        "fire",
        "--sync",
        "s",
        "-i",
        "p",
        "-m",
        "M",
        "--set",
        "responseResults.added=5",
        "--set",
        "checkpoints=null",
        "--set-new",
        'extra.field="x"',
    )
    assert result.exit_code == 0
    body = json.loads(configured.requests[0].body)
    assert body["responseResults"]["added"] == 5 and body["checkpoints"] is None
    assert body["extra"] == {"field": "x"}
    _verify(configured.requests[0])


def test_set_refuses_a_field_nango_does_not_have(cli, configured: Receiver) -> None:
    """Before: `--set responseResult.added=5` (a typo) silently added a top-level field."""
    result = cli("--json", "fire", "--sync", "s", "--set", "responseResult.added=5")
    assert result.exit_code == 2 and configured.requests == []
    error = json.loads(result.stdout)["error"]
    assert "'responseResult' is not a field of a sync webhook" in error["message"]
    assert "responseResults" in error["message"]  # the valid fields are listed
    assert "did you mean 'responseResults'?" in error["hint"] and "--set-new" in error["hint"]
    nested = cli("fire", "--sync", "s", "--set", "responseResults.addded=5")
    assert nested.exit_code == 2 and "'addded' is not a field of responseResults" in nested.stderr
    leaf = cli("fire", "--sync", "s", "--set", "model.name=x")
    assert leaf.exit_code == 2 and "model is a value" in leaf.stderr
    # free-form objects take any key: tags, checkpoint records, forwarded payloads
    assert cli("fire", "--sync", "s", "--set", "checkpoints.from.cursor=5").exit_code == 0
    assert cli("fire", "--auth", "creation", "-i", "g", "--set", "tags.team=a").exit_code == 0
    bodies = [json.loads(r.body) for r in configured.requests]
    assert bodies[0]["checkpoints"]["from"] == {"cursor": 5}
    assert bodies[1]["tags"] == {"team": "a"}


def test_options_for_another_kind_are_usage_errors(cli, configured: Receiver) -> None:
    """Before: `--tag` on a sync, `--added` on an auth webhook were silently ignored."""
    for args, flag in (
        (["--sync", "s", "--tag", "a=b"], "--tag does not apply to sync webhooks"),
        (["--auth", "creation", "-i", "g", "--added", "3"], "--added does not apply to auth"),
        (["--async-action", "-i", "g", "--failed"], "--failed does not apply to async action"),
        (["--sync", "s", "--unmatched"], "--unmatched does not apply to sync"),
        (["--auth", "creation", "-i", "g", "--end-user-email", "a@b.c"], "needs --end-user-id"),
    ):
        result = cli("fire", *args)
        assert result.exit_code == 2, args
        assert flag in result.stderr, (args, result.stderr)
    assert configured.requests == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"cursor": {"nested": 1}}', "'cursor' is an object"),
        ('{"ids": [1, 2]}', "'ids' is an array"),
        ('{"cursor": null}', "'cursor' is null"),
        ("[1]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
    ],
)
def test_checkpoint_values_are_flat(cli, configured: Receiver, value: str, message: str) -> None:
    result = cli("fire", "--sync", "s", "--checkpoint-from", value)
    assert result.exit_code == 2 and message in result.stderr
    assert "strings, numbers or booleans" in result.stderr or "JSON object" in result.stderr
    assert configured.requests == []
    ok = cli("fire", "--sync", "s", "--checkpoint-from", '{"a": "x", "b": 2, "c": true}')
    assert ok.exit_code == 0


@pytest.mark.parametrize(
    ("mode", "present"),
    [
        ("legacy-only", {"x-nango-signature"}),
        ("hmac-only", {"x-nango-hmac-sha256"}),
    ],
)
def test_sign_modes(cli, configured: Receiver, mode: str, present: set[str], home: Path) -> None:
    assert cli("fire", "--sync", "s", "--sign", mode).exit_code == 0
    names = {k.lower() for k in configured.requests[0].headers}
    assert names & {"x-nango-signature", "x-nango-hmac-sha256"} == present
    assert _db(home).execute("SELECT negative FROM webhooks").fetchone()[0] == 1


@pytest.mark.parametrize("mode", ["bad", "none"])
def test_a_bad_signature_rejected_is_the_expected_outcome(cli, mode: str, home: Path) -> None:
    """Before, a handler rejecting `--sign bad` exited 4 like an unreachable one. The
    verdict is judged against a correctly signed copy sent first (the control)."""
    from nango_cli.testing import running_listener

    assert cli("config", "set-key", KEY).exit_code == 0
    define_syncs(cli)
    with running_listener(signing_key=KEY, reject_invalid=True) as handler:
        result = cli("fire", "--sync", "s", "--sign", mode, "--url", handler.url)
        control, forged = handler.wait_for(2)
    assert result.exit_code == 0, result.stderr
    assert "rejected as expected" in result.stdout + result.stderr
    assert control.valid and control.answered == 200
    assert not forged.valid and forged.answered == 401 and forged.body == control.body
    rows = _db(home).execute("SELECT negative, meta FROM webhooks ORDER BY rowid").fetchall()
    # the verdict the run decided is the forgery's history row (app/forgeries.py)
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        (0, {"control": True}),
        (1, {"expect": "rejection", "verdict": "refused"}),
    ]
    outcomes = [r["outcome"] for r in jdata(cli("--json", "history").stdout)]
    assert outcomes == ["rejected as expected (401)", "delivered (control)"]


def test_the_control_is_answered_before_the_forgery_is_sent(cli, configured: Receiver) -> None:
    """Before, the control and the forgery went out at once (a sync's webhooks are
    concurrent), so a handler could see the forgery first: not what the report says."""
    seen_when_control_answered: list[int] = []
    configured.script.append(
        Behaviour(
            delay=0.5, after=lambda: seen_when_control_answered.append(len(configured.requests))
        )
    )
    configured.default = Behaviour(status=401)
    result = cli("fire", "--sync", "s", "--sign", "bad")
    assert result.exit_code == 0, result.stderr
    assert seen_when_control_answered == [1]  # the forgery had not been sent yet
    _verify(configured.requests[0])
    with pytest.raises(AssertionError):
        _verify(configured.requests[1])


@pytest.mark.parametrize("mode", ["bad", "none"])
def test_a_handler_that_refuses_everything_is_not_a_pass(
    cli, configured: Receiver, mode: str
) -> None:
    """Before: `fire --sign bad` said "rejected as expected" to a handler that rejected
    every webhook, valid ones included: a clean bill for a broken handler."""
    configured.default = Behaviour(status=401)
    result = cli("fire", "--sync", "s", "--sign", mode, "--retry-policy", "none")
    assert result.exit_code == 9, result.stderr
    assert "not judged: the handler also refused a valid webhook" in result.stderr
    assert "rejected as expected" not in result.stdout + result.stderr
    assert len(configured.requests) == 2  # the control, then the forgery
    _verify(configured.requests[0])
    with pytest.raises((AssertionError, KeyError)):  # a wrong, or no, signature
        _verify(configured.requests[1])
    # history agrees with the run: not "rejected as expected" (before, it said so)
    outcomes = [r["outcome"] for r in jdata(cli("--json", "history").stdout)]
    assert outcomes[0] == "not judged (no accepted control) (401)"


@pytest.mark.parametrize("mode", ["bad", "none"])
def test_a_bad_signature_accepted_exits_9(cli, configured: Receiver, mode: str) -> None:
    """Before, a handler accepting `--sign bad` exited 0 silently."""
    result = cli("--json", "fire", "--sync", "s", "--sign", mode)
    assert result.exit_code == 9
    error = jerror(result.stdout)
    assert "acted on 1 webhook(s) with a bad or missing signature" in error["message"]
    assert "does not verify signatures" in error["message"]
    assert "accepted" in result.stderr


def test_dry_run_prints_the_exact_request_and_sends_nothing(
    cli, configured: Receiver, home: Path
) -> None:
    result = cli("fire", "--sync", "s", "-i", "p", "-m", "M", "--dry-run")
    assert result.exit_code == 0
    assert configured.requests == []
    assert result.stdout.startswith(f"POST {configured.url}\n")
    head, _, body = result.stdout.partition("\n\n")
    assert "X-Nango-Hmac-Sha256: " in head
    signature = head.split("X-Nango-Hmac-Sha256: ")[1].split("\n")[0]
    assert (
        signature == hmac.new(KEY.encode(), body.rstrip("\n").encode(), hashlib.sha256).hexdigest()
    )
    assert not (home / "data" / "history.sqlite3").exists()


def test_json_output_is_one_document(cli, configured: Receiver) -> None:
    configured.then(Behaviour(status=503))
    result = cli("--json", "fire", "--sync", "s", "-m", "A")
    assert result.exit_code == 0
    doc = jdata(result.stdout)
    assert doc["policy"] == "docs"
    (webhook,) = doc["webhooks"]
    assert webhook["status"] == "delivered" and webhook["attempt_count"] == 2
    assert [a["status_code"] for a in webhook["attempts"]] == [503, 200]
    assert json.loads(webhook["body"])["model"] == "A"


def test_undelivered_webhook_exits_4_and_is_recorded(cli, configured: Receiver, home) -> None:
    configured.default = Behaviour(status=500)
    result = cli("fire", "--sync", "s", "--retry-policy", "server", "--retries", "0")
    assert result.exit_code == 4
    assert "not delivered" in result.stderr and "replay" in result.stderr
    row = _db(home).execute("SELECT status, attempt_count FROM webhooks").fetchone()
    assert (row["status"], row["attempt_count"]) == ("failed", 1)


def test_secondary_url_gets_every_webhook(cli, configured: Receiver) -> None:
    with Receiver() as secondary:
        cli("config", "set-url", "--secondary", secondary.url)
        assert cli("fire", "--sync", "s").exit_code == 0
        assert len(configured.requests) == len(secondary.requests) == 1
        assert configured.requests[0].body == secondary.requests[0].body


def test_url_flag_overrides_and_repeats(cli, configured: Receiver) -> None:
    with Receiver() as a, Receiver() as b:
        assert cli("fire", "--sync", "s", "--url", a.url, "-u", b.url).exit_code == 0
        assert configured.requests == [] and len(a.requests) == len(b.requests) == 1


def test_toggles_skip_what_nango_would_not_send(cli, configured: Receiver) -> None:
    cli("config", "set", "send_empty_syncs", "false")
    result = cli("fire", "--sync", "s", "--added", "0")
    assert result.exit_code == 0 and "not sent" in result.stderr
    assert configured.requests == []
    assert cli("fire", "--sync", "s", "--added", "1").exit_code == 0  # not empty: sent
    assert cli("fire", "--sync", "s", "--added", "0", "--force").exit_code == 0
    assert len(configured.requests) == 2
    # a failed refresh, then the recovery (Nango #7202): both under send_refresh_errors
    assert cli("fire", "--auth", "refresh", "-i", "github", "--failed").exit_code == 0
    assert cli("fire", "--auth", "refresh", "-i", "github").exit_code == 0
    recovered = json.loads(configured.requests[-1].body)
    assert (recovered["operation"], recovered["success"]) == ("refresh", True)
    assert len(configured.requests) == 4
    cli("config", "set", "send_refresh_errors", "off")
    refresh = cli("fire", "--auth", "refresh", "-i", "github")
    assert refresh.exit_code == 0 and "send_refresh_errors" in refresh.stderr
    cli("config", "set", "send_auth_creation", "off")
    assert cli("fire", "--auth", "creation", "-i", "github").exit_code == 0
    cli("config", "set", "send_sync_errors", "off")
    assert cli("fire", "--sync", "s", "--failed").exit_code == 0
    cli("config", "set", "send_async_actions", "no")
    assert cli("fire", "--async-action", "-i", "github").exit_code == 0
    assert len(configured.requests) == 4


def test_config_errors_come_before_anything_is_sent(cli, receiver: Receiver, home) -> None:
    no_url = cli("fire", "--sync", "s", "-i", "s", "-m", "S")
    assert no_url.exit_code == 3 and "config set-url" in no_url.stderr
    cli("config", "set-url", receiver.url)
    no_key = cli("fire", "--sync", "s", "-i", "s", "-m", "S")
    assert no_key.exit_code == 3 and "config set-key" in no_key.stderr
    assert receiver.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["fire"],
        ["fire", "--sync", "s", "--auth", "creation"],
        ["fire", "--sync", "s", "--url", "not-a-url"],
        ["fire", "--body", "/no/such/file.json"],
        ["fire", "--sync", "s", "--added", "lots"],
        ["fire", "--sync", "s", "--set", "nothing"],
        ["fire", "--sync", "s", "--checkpoint-to", "{bad"],
        ["fire", "--sync", "s", "--modified-after", "yesterday"],
        ["fire", "--sync", "s", "--retry-policy", "often"],
        ["fire", "--sync", "s", "--sign", "maybe"],
        ["fire", "--auth", "teleport", "-i", "g"],
        ["fire", "--sync", "s", "-m", "A", "--added", "B=1"],
        ["fire", "--initial", "--webhook", "--sync", "s"],
    ],
)
def test_bad_input_is_a_usage_error_without_traceback(cli, configured, args) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert configured.requests == []


def test_unexpected_errors_hide_the_traceback_unless_debug(cli, configured, monkeypatch) -> None:
    import nango_cli.app.fire as fire

    def boom(*a, **k):
        raise RuntimeError("secret-looking detail")

    monkeypatch.setattr(fire, "plan", boom)
    result = cli("fire", "--sync", "s")
    assert result.exit_code == 1
    assert "unexpected RuntimeError" in result.stderr and "--debug" in result.stderr
    assert "secret-looking detail" not in result.stderr
    debug = cli("--debug", "fire", "--sync", "s")
    assert isinstance(debug.exception, RuntimeError)


def test_subprocess_fire_and_exit_codes(home: Path, receiver: Receiver) -> None:
    env = {"NANGO_HOOKS_URL": receiver.url, "NANGO_HOOKS_SIGNING_KEY": KEY}
    ok = run("fire", "--sync", "github-tickets", "-i", "github", "-m", "Ticket", env=env)
    assert ok.returncode == 0, ok.stderr
    _verify(receiver.requests[0])
    down = run(
        "fire",
        "--sync",
        "s",
        "-i",
        "s",
        "-m",
        "S",
        "--url",
        f"http://127.0.0.1:{free_port()}/",
        "--retry-policy",
        "none",
        env=env,
    )
    assert down.returncode == 4 and "refused" in down.stderr
    assert KEY not in ok.stdout + ok.stderr + down.stdout + down.stderr


def test_sigkill_mid_retry_loses_nothing(home: Path, receiver: Receiver) -> None:
    """A fire killed while waiting to retry leaves its webhook and first attempt stored,
    and the next run marks it interrupted."""
    receiver.default = Behaviour(status=503)
    env = {**os.environ, "NANGO_HOOKS_URL": receiver.url, "NANGO_HOOKS_SIGNING_KEY": KEY}
    db_path = home / "data" / "history.sqlite3"
    for killed in range(1, 4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "nango_cli", "fire", *FIRE_S, "--retry-policy", "server"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until this run's first attempt is recorded
            if db_path.exists():
                db = sqlite3.connect(db_path)
                try:
                    attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
                except sqlite3.OperationalError:  # the first run is still migrating
                    attempts = 0
                finally:
                    db.close()
                if attempts == killed:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "fire ended before it could be killed mid-retry"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    db = _db(home)
    assert db.execute("SELECT count(*) FROM webhooks").fetchone()[0] == 3
    unfinished = db.execute(
        "SELECT count(*) FROM webhooks WHERE status IN ('sending', 'interrupted')"
    ).fetchone()[0]
    assert unfinished == 3
    receiver.default = Behaviour(status=200)
    after = run(
        *("fire", "--sync", "s", "-i", "s", "-m", "S"),
        env={"NANGO_HOOKS_URL": receiver.url, "NANGO_HOOKS_SIGNING_KEY": KEY},
    )
    assert after.returncode == 0
    statuses = [r[0] for r in db.execute("SELECT status FROM webhooks ORDER BY created_at")]
    assert statuses.count("interrupted") == 3 and statuses.count("delivered") == 1
    attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    assert attempts == 4  # the first attempt of each killed run, then the good one


def test_ctrl_c_mid_retry_exits_130_and_marks_the_webhook_interrupted(
    home: Path, receiver: Receiver
) -> None:
    receiver.default = Behaviour(status=503)
    env = {**os.environ, "NANGO_HOOKS_URL": receiver.url, "NANGO_HOOKS_SIGNING_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nango_cli", "fire", *FIRE_S, "--retry-policy", "server"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # now waiting 3 s before the retry
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "Traceback" not in err
    row = _db(home).execute("SELECT status, attempt_count FROM webhooks").fetchone()
    assert (row["status"], row["attempt_count"]) == ("interrupted", 1)


def test_a_forgery_refused_after_the_handler_fetched_for_it_was_acted_on(
    cli, home: Path, directories: Directories
) -> None:
    """A 401 is not a refusal when the handler called Nango's API for the forged
    webhook's connection first (it fetched, then verified): before, "rejected as
    expected"."""
    from nango_cli.testing import running_api
    from tests.handlers.aiohttp_app import Bugs, PyHandler

    secret = "sk-forgery-0123456789abcdef"
    assert cli("config", "set-key", KEY).exit_code == 0
    define_syncs(cli)
    fire = ["--json", "fire", "--sync", "s", "-c", "c1", "--sign", "bad", "--url"]
    with running_api(secret_key=secret, store=directories.history_db) as api:
        with PyHandler(KEY, api.url, secret, Bugs(verify_late=True)) as late:
            acted = cli(*fire, late.url)
        with PyHandler(KEY, api.url, secret) as correct:
            refused = cli(*fire, correct.url)
    error = jerror(acted.stdout)
    assert acted.exit_code == 9, acted.stdout
    assert "it acted on a forged webhook" in error["message"]
    assert "GET /records" in error["message"] and "verify X-Nango-Hmac-Sha256" in error["hint"]
    assert refused.exit_code == 0, refused.stdout
    outcomes = [r["outcome"] for r in jdata(cli("--json", "history").stdout)]
    assert outcomes.count("acted on a forgery! (401)") == 1
    assert outcomes.count("rejected as expected (401)") == 1


def test_updates_beyond_the_live_records_say_they_made_them(cli, configured: Receiver) -> None:
    """Before: `fire --updated 20` on 6 live records made 14 without a word."""
    assert cli("fire", "--sync", "s", "-c", "c1", "--added", "6").exit_code == 0
    within = cli("fire", "--sync", "s", "-c", "c1", "--updated", "2")
    assert within.exit_code == 0 and "did not exist" not in within.stderr
    beyond = cli("fire", "--sync", "s", "-c", "c1", "--updated", "20")
    assert beyond.exit_code == 0
    assert "14 of the S record(s) it updates or deletes did not exist for connection c1" in (
        beyond.stderr
    )
    live = [r for r in jdata(cli("--json", "records", "--live", "-n", "100").stdout)]
    assert len(live) == 20
