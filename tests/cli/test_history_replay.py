"""history and replay against real SQLite files and real loopback receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest

from nango_cli.support.paths import Directories
from tests.conftest import KEY, Cli, jdata, run
from tests.receiver import Behaviour, Receiver


def _fire(cli, *args: str) -> list[str]:
    result = cli("fire", *args)
    assert result.exit_code in (0, 4), result.stderr
    return [line.split()[0] for line in result.stdout.splitlines()]


def _hmac(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _headers(request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def test_history_lists_newest_first_with_filters(cli, configured: Receiver) -> None:
    (first,) = _fire(cli, "--sync", "github-tickets", "-m", "Ticket", "-c", "a")
    (second,) = _fire(cli, "--auth", "creation", "-i", "github", "-c", "b")
    configured.default = Behaviour(status=500)
    (third,) = _fire(cli, "--sync", "other", "-m", "X", "--retry-policy", "none")
    rows = jdata(cli("history", "--json").stdout)
    assert [r["id"] for r in rows] == [third, second, first]
    assert [r["outcome"] for r in rows] == ["failed after 1", "delivered", "delivered"]
    assert [
        r["id"] for r in jdata(cli("history", "list", "--json", "--sync", "github-tickets").stdout)
    ] == [first]
    assert [r["id"] for r in jdata(cli("history", "--json", "-t", "auth").stdout)] == [second]
    assert [r["id"] for r in jdata(cli("history", "--json", "-c", "a").stdout)] == [first]
    assert [r["id"] for r in jdata(cli("history", "--json", "--failed").stdout)] == [third]
    assert len(jdata(cli("history", "--json", "-n", "2").stdout)) == 2
    assert jdata(cli("history", "--json", "--since", "1h").stdout)
    assert jdata(cli("history", "--json", "--since", "2999-01-01").stdout) == []
    table = cli("history")
    assert table.exit_code == 0 and first in table.stdout and "failed after 1" in table.stdout
    assert cli("history", "--since", "whenever").exit_code == 2


def test_history_show_prefix_raw_and_errors(cli, configured: Receiver) -> None:
    (webhook_id,) = _fire(cli, "--sync", "s", "-m", "M")
    shown = cli("history", "show", webhook_id[:6])
    assert shown.exit_code == 0
    assert "X-Nango-Hmac-Sha256" in shown.stdout and '"model": "M"' in shown.stdout
    assert "#1" in shown.stdout and "200" in shown.stdout
    raw = cli("history", "show", webhook_id, "--raw")
    assert raw.stdout_bytes == configured.requests[0].body
    doc = jdata(cli("history", "show", webhook_id, "--json").stdout)
    assert doc["attempts"][0]["status_code"] == 200
    missing = cli("history", "show", "ffffffff")
    assert missing.exit_code == 6 and "history" in missing.stderr


def test_ambiguous_prefix_is_not_found(cli, configured: Receiver, home: Path) -> None:
    _fire(cli, "--sync", "s")
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    db.execute("UPDATE webhooks SET id = 'abc000000001'")
    db.commit()
    _fire(cli, "--sync", "s")
    db.execute("UPDATE webhooks SET id = 'abc000000002' WHERE id != 'abc000000001'")
    db.commit()
    result = cli("history", "show", "abc")
    assert result.exit_code == 6 and "ambiguous" in result.stderr


def test_hostile_payload_is_shown_safely(cli, configured: Receiver, tmp_path: Path) -> None:
    body = tmp_path / "evil.json"
    body.write_bytes(
        '{"x": "\\u001b[31mred\\u001b]0;title\\u0007 [bold]markup[/bold] \u009b"}'.encode()
    )
    (webhook_id,) = _fire(cli, "--body", str(body))
    shown = cli("history", "show", webhook_id).stdout
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\\u001b[31mred" in shown and "[bold]markup[/bold]" in shown


def test_replay_is_byte_identical_by_default(cli, configured: Receiver) -> None:
    (original,) = _fire(cli, "--sync", "s", "-m", "M")
    cli("config", "set-key", "a-different-key-entirely")  # ignored: no --resign
    result = cli("replay", original[:5])
    assert result.exit_code == 0, result.stderr
    first, again = configured.requests
    assert again.body == first.body
    for name in ("x-nango-hmac-sha256", "x-nango-signature", "content-type", "user-agent"):
        assert _headers(again)[name] == _headers(first)[name]
    replayed = jdata(cli("history", "--json", "-n", "1").stdout)[0]
    assert replayed["replay_of"] == original and "replay of" in result.stdout


def test_resign_and_set(cli, configured: Receiver) -> None:
    (original,) = _fire(cli, "--sync", "s", "-m", "M")
    new_key = "new-signing-key-0000"
    cli("config", "set-key", new_key)
    assert cli("replay", original, "--resign").exit_code == 0
    resigned = configured.requests[-1]
    assert resigned.body == configured.requests[0].body
    assert _headers(resigned)["x-nango-hmac-sha256"] == _hmac(new_key, resigned.body)

    assert cli("replay", original, "--set", "responseResults.added=42").exit_code == 0
    edited = configured.requests[-1]
    assert json.loads(edited.body)["responseResults"]["added"] == 42
    assert _headers(edited)["x-nango-hmac-sha256"] == _hmac(new_key, edited.body)


def test_replay_to_another_url_last_and_failed(cli, configured: Receiver) -> None:
    configured.then(Behaviour(status=500))
    (failed_id,) = _fire(cli, "--sync", "s", "--retry-policy", "none")
    (ok_id,) = _fire(cli, "--sync", "t")
    with Receiver() as other:
        assert cli("replay", "--last", "--to", other.url).exit_code == 0
        assert json.loads(other.requests[-1].body)["syncName"] == "t"
        result = cli("--json", "replay", "--failed", "--since", "1h", "--to", other.url)
        assert result.exit_code == 0
        doc = jdata(result.stdout)
        assert [w["replay_of"] for w in doc["webhooks"]] == [failed_id]
        assert json.loads(other.requests[-1].body)["syncName"] == "s"
    assert ok_id


def test_replay_failure_exits_4_and_dry_run_sends_nothing(cli, configured: Receiver) -> None:
    (webhook_id,) = _fire(cli, "--sync", "s")
    dry = cli("replay", webhook_id, "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("POST ")
    assert len(configured.requests) == 1
    configured.default = Behaviour(status=503)
    assert cli("replay", webhook_id, "--retry-policy", "none").exit_code == 4


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["replay"], 2),
        (["replay", "abc", "--last"], 2),
        (["replay", "ffffff"], 6),
        (["replay", "--last"], 6),
        (["replay", "--file", "/nope.json"], 2),
        (["replay", "--last", "--to", "mailto:x"], 2),
    ],
)
def test_replay_bad_input(cli, configured: Receiver, args: list[str], code: int) -> None:
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr


def test_replay_raw_file_is_signed_with_the_current_key(cli, configured, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"type":"sync","from":"nango"}')
    assert cli("replay", "--file", str(body)).exit_code == 0
    request = configured.requests[0]
    assert request.body == body.read_bytes()
    assert _headers(request)["x-nango-hmac-sha256"] == _hmac(KEY, request.body)


def test_export_import_into_a_fresh_home_then_replay(
    cli, configured: Receiver, tmp_path: Path
) -> None:
    ids = _fire(cli, "--sync", "s", "-m", "A", "-m", "B")
    export_file = tmp_path / "out.jsonl"
    assert cli("history", "export", "-o", str(export_file)).exit_code == 0
    lines = export_file.read_text().splitlines()
    assert len(lines) == 2 and {json.loads(x)["id"] for x in lines} == set(ids)
    assert all(json.loads(x)["attempts"][0]["status_code"] == 200 for x in lines)

    fresh = Cli(Directories.under(tmp_path / "fresh"))  # another machine's state
    imported = fresh("--json", "history", "import", str(export_file))
    assert jdata(imported.stdout) == {"read": 2, "imported": 2, "skipped": 0}
    again = fresh("--json", "history", "import", str(export_file))
    assert jdata(again.stdout) == {"read": 2, "imported": 0, "skipped": 2}
    assert len(jdata(fresh("history", "--json").stdout)) == 2

    originals = {json.loads(r.body)["model"]: r for r in configured.requests}
    with Receiver() as app:
        assert fresh("replay", ids[0], "--to", app.url).exit_code == 0  # no key needed here
        replayed = app.requests[0]
        original = originals[json.loads(replayed.body)["model"]]
        assert replayed.body == original.body
        assert (
            _headers(replayed)["x-nango-hmac-sha256"] == _headers(original)["x-nango-hmac-sha256"]
        )
        # an exported line replays too, from a file or stdin
        assert fresh("replay", "--file", "-", "--to", app.url, input=lines[0] + "\n").exit_code == 0
        assert app.requests[1].body in {r.body for r in configured.requests}


def test_import_rejects_garbage_without_importing_anything(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"format": "nango-hooks/webhook@1", "id": "abcd1234", '
        '"created_at": "2026-11-01T00:00:00.000Z", "status": "delivered", '
        '"direction": "sent", "body": "{}"}\nnot json\n'
    )
    result = cli("history", "import", str(bad))
    assert result.exit_code == 2 and "line 2" in result.stderr
    assert jdata(cli("history", "--json").stdout) == []


def test_export_redacts_credentials_unless_revealed(cli, configured: Receiver, home) -> None:
    (webhook_id,) = _fire(cli, "--sync", "s")
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    db.execute(
        "UPDATE webhooks SET headers = ? WHERE id = ?",
        (json.dumps({"Authorization": "Bearer tok-123", "X-Ok": "1"}), webhook_id),
    )
    db.commit()
    assert "tok-123" not in cli("history", "export").stdout
    assert "tok-123" not in cli("history", "show", webhook_id).stdout
    assert "tok-123" in cli("history", "export", "--reveal").stdout


def test_prune_and_clear(cli, configured: Receiver, home: Path) -> None:
    _fire(cli, "--sync", "s")
    _fire(cli, "--sync", "t")
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    db.execute("UPDATE webhooks SET created_at = '2020-01-01T00:00:00.000Z' WHERE sync_name = 's'")
    db.commit()
    pruned = cli("--json", "history", "prune", "--older-than", "30d")
    assert jdata(pruned.stdout) == {"deleted": 1}
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 1
    refused = run("history", "clear", input=b"")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert cli("history", "clear", "--yes").exit_code == 0
    assert jdata(cli("history", "--json").stdout) == []


def test_sync_filter_uses_the_composite_index(cli, configured: Receiver, home: Path) -> None:
    _fire(cli, "--sync", "s")
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM webhooks WHERE sync_name = ? "
        "ORDER BY created_at DESC, rowid DESC LIMIT 50",
        ("s",),
    ).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert "webhooks_sync_created" in text and "TEMP B-TREE" not in text


def test_binary_non_json_body_is_shown_escaped(cli, configured: Receiver, tmp_path: Path) -> None:
    body = tmp_path / "binary.bin"
    body.write_bytes(b"\x1b[2J\xff\xfe not json \x07")
    (webhook_id,) = _fire(cli, "--body", str(body))
    assert configured.requests[0].body == body.read_bytes()
    shown = cli("history", "show", webhook_id).stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b[2J" in shown and "\\xff" in shown
    assert cli("history", "show", webhook_id, "--raw").stdout_bytes == body.read_bytes()


def test_a_replayed_forgery_is_judged_as_fire_judges_one(cli, configured: Receiver) -> None:
    """Before: replaying a forgery the handler refused exited 4 ("not delivered"), and
    the summary judged it apart from fire. Now the fire service's verdict decides: with
    its control, refused as expected; alone, not judged (no accepted control)."""

    # each control is accepted (sent first, alone), everything else refused
    configured.default = Behaviour(status=401)
    configured.script.extend([Behaviour(status=200)])
    fired = jdata(cli("--json", "fire", "--sync", "s", "--sign", "bad").stdout)
    control, forged = (w["id"] for w in fired["webhooks"])
    configured.script.extend([Behaviour(status=200)])
    both = cli("replay", control, forged)
    assert both.exit_code == 0, both.stderr
    assert "rejected as expected (401)" in both.stdout
    alone = cli("--json", "replay", forged)
    assert alone.exit_code == 9
    assert "not judged" in json.loads(alone.stdout)["error"]["message"]
    outcomes = [r["outcome"] for r in jdata(cli("--json", "history", "-n", "3").stdout)]
    assert outcomes[0] == "not judged (no accepted control) (401)"
