"""What a newcomer met in their first hour and was misled by: each case fails on the
code before this change."""

from __future__ import annotations

import json
from pathlib import Path

from nango_cli.protocol.fakedata import Generator
from nango_cli.storage.records import connection_tag
from tests.conftest import KEY, jdata


def test_generated_record_ids_are_unique_per_connection_and_stable(cli, configured) -> None:
    """Before: every connection's records were `slack-user-1`, `-2`…: Nango's sample app
    keys contacts by record id, so a second connection's overwrote and deleted the first's."""
    for connection in ("conn-a", "conn-b"):
        args = ("fire", "--sync", "s", "-c", connection, "--added", "2", "--seed", "7")
        assert cli(*args).exit_code == 0
    found = jdata(cli("--json", "records", "--limit", "10").stdout)
    ids = {r["connection_id"]: set() for r in found}
    for record in found:
        ids[record["connection_id"]].add(record["id"])
    assert ids["conn-a"] & ids["conn-b"] == set()
    assert ids["conn-a"] == {f"s-{connection_tag('conn-a')}-{n}" for n in (1, 2)}
    # The same seed gives the same records.
    again = Generator("S", None, {}).record("x", 7, 1)
    assert again == Generator("S", None, {}).record("x", 7, 1)


def test_generated_records_are_updated_after_they_were_created() -> None:
    """Before: a generated record could have `updatedAt` before `createdAt`."""
    generator = Generator("Ticket", None, {})
    for number in range(500):
        record = generator.record(f"t-{number}", 0, number)
        assert record["updatedAt"] >= record["createdAt"], record
        changed = generator.change(record, 0, number, 1)
        assert changed["createdAt"] == record["createdAt"]
        assert changed["updatedAt"] > record["updatedAt"]


def test_generated_values_follow_each_field_name_in_every_spelling() -> None:
    """The generator decides a value by the field's words (`firstName`, `first_name`,
    `FirstName` are one field): a change to how names are split must keep them."""
    from nango_cli.protocol.fakedata import _FIRST, _LAST

    fields = ("firstName", "first_name", "FirstName", "lastName", "last_name", "email")
    schema = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    generator = Generator("Contact", schema, {})
    for number in range(20):
        record = generator.record(f"c-{number}", 3, number)
        for name in ("firstName", "first_name", "FirstName"):
            assert record[name] in _FIRST, (name, record)
        for name in ("lastName", "last_name"):
            assert record[name] in _LAST, (name, record)
        assert record["email"].endswith(f"{number}@example.com"), record


def test_a_modified_after_without_milliseconds_is_taken(cli, configured) -> None:
    """Before: `--set modifiedAfter=2026-01-01T00:00:00Z` (valid ISO, no milliseconds)
    crashed with "unexpected ValueError", exit 1."""
    result = cli("fire", "--sync", "s", "--set", "modifiedAfter=2026-11-01T00:00:00Z")
    assert result.exit_code == 0, result.stderr
    (body,) = [json.loads(r.body) for r in configured.requests]
    assert body["modifiedAfter"] == "2026-11-01T00:00:00Z"  # sent as edited
    (record,) = jdata(cli("--json", "records").stdout)
    assert record["_nango_metadata"]["last_modified_at"] >= "2026-11-01T00:00:00.000Z"


def test_a_raw_sync_body_without_a_sync_name_is_labelled_sensibly(
    cli, configured, tmp_path: Path
) -> None:
    """Before: `fire --body` of a sync body without syncName printed `sync None/Ticket`."""
    path = tmp_path / "body.json"
    path.write_text('{"type":"sync","model":"Ticket","connectionId":"c1"}')
    result = cli("fire", "--body", str(path))
    assert result.exit_code == 0, result.stderr
    assert "None" not in result.stdout + result.stderr
    assert "sync ?/Ticket" in result.stdout


def test_a_bare_fire_is_an_error_line_not_a_page_of_help(cli) -> None:
    """Before: `nango-hooks fire` printed 80 lines of help and no `error:` line."""
    result = cli("fire")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: choose one webhook")
    assert len(result.stderr.splitlines()) == 2  # the error and its hint


def test_firing_without_a_connection_is_not_a_note_every_time(cli, configured) -> None:
    """Before: "connection not set: using 'test-connection-id'" on every fire; the
    default is documented, and the line of the webhook names it."""
    result = cli("fire", "--sync", "s")
    assert result.exit_code == 0
    assert "connection not set" not in result.stderr
    assert "connection test-connection-id" in result.stdout


def test_a_mismatch_names_the_environment_whose_key_signed(cli, tmp_path: Path) -> None:
    """Before: "it matches another environment's key", without naming it."""
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("-e", "prod", "config", "set-key", "prod-key-0123456789abcdef").exit_code == 0
    import nango_cli

    webhook = nango_cli.sign_webhook({"type": "sync"}, "prod-key-0123456789abcdef")
    body = tmp_path / "body.json"
    body.write_bytes(webhook.body)
    result = cli("verify", str(body), "-s", webhook.headers["X-Nango-Hmac-Sha256"])
    assert result.exit_code == 5
    assert "the signing key of environment 'prod'" in result.stdout + result.stderr


def test_a_forgery_to_a_handler_that_is_not_running_is_not_judged(cli, configured) -> None:
    """Before: a handler nobody could reach got "not refused with a 4xx (refused)" and
    "the handler also refused a valid webhook", as if it had answered."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    result = cli("fire", "--sync", "s", "--sign", "bad", "--url", url, "--retry-policy", "none")
    assert result.exit_code == 9, result.stderr
    assert "not judged: the handler did not answer the valid webhook" in result.stderr
    assert "is it running at that URL?" in result.stderr
    assert "no answer (refused)" in result.stdout and "not refused with a 4xx" not in result.stdout
    assert configured.requests == []
