"""Nango 0.71 as it is: deletion webhooks, key rotation and the secret key, the circuit
breaker, per-connection URLs, merged headers and JavaScript numbers. Nango's own SDK
and types (npm, 0.71.10) are the judges where they can be."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nango_cli.protocol import serialization, signatures
from tests.conftest import KEY, jdata, jpayload
from tests.listening import listening
from tests.nango_node import SDK_HANDLER, SORT_KEYS_JS, NodeServer, run_node
from tests.receiver import Behaviour, Receiver

PREVIOUS = "previous-signing-key-0123456789abcdef0123"
SECRET = "nango-api-secret-key-0123456789abcdef4567"


def _bodies(receiver: Receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests]


# ---------------------------------------------------------------- deletion, unknown


def test_fire_auth_deletion_and_its_toggle(cli, configured: Receiver) -> None:
    """Before: `fire --auth deletion` was rejected."""
    result = cli("fire", "--auth", "deletion", "-i", "github", "-c", "conn-1")
    assert result.exit_code == 0, result.stderr
    (body,) = _bodies(configured)
    assert (body["type"], body["operation"], body["success"]) == ("auth", "deletion", True)
    assert cli("config", "set", "send_connection_deletions", "false").exit_code == 0
    skipped = cli("--json", "fire", "--auth", "deletion", "-i", "github")
    assert skipped.exit_code == 0 and len(configured.requests) == 1
    assert "send_connection_deletions" in jdata(skipped.stdout)["skipped"]
    forced = cli("fire", "--auth", "deletion", "-i", "github", "--force")
    assert forced.exit_code == 0 and len(configured.requests) == 2


def test_auth_mode_and_provider_unknown(cli, configured: Receiver) -> None:
    """Before: `--auth-mode unknown` was rejected (it was upper-cased)."""
    args = ("--auth", "deletion", "-i", "gone", "--auth-mode", "unknown", "--provider", "unknown")
    assert cli("fire", *args).exit_code == 0
    (body,) = _bodies(configured)
    assert (body["authMode"], body["provider"]) == ("unknown", "unknown")
    # and listen's schema check takes them as Nango's own values
    assert cli("config", "set-key", KEY).exit_code == 0
    data = serialization.serialize(body)
    with listening("--json", "--count", "1") as lst:
        import httpx

        httpx.post(lst.url, content=data, headers=signatures.signature_headers(KEY, data))
        _code, out, _err = lst.finish()
    (event,) = lst.events(out)
    assert event["schema"] == [] and event["operation"] == "deletion"


# ---------------------------------------------------------------- keys


def _rotated(cli) -> None:
    assert cli("config", "set-key", PREVIOUS).exit_code == 0
    rotated = cli("config", "set-key", "--rotate", KEY)
    assert rotated.exit_code == 0 and "previous key" in rotated.stderr
    assert PREVIOUS not in rotated.stdout + rotated.stderr


def test_rotate_moves_the_key_and_both_verify(cli, tmp_path: Path) -> None:
    _rotated(cli)
    shown = cli("config", "show")
    assert PREVIOUS not in shown.stdout and KEY not in shown.stdout
    assert "previous_signing_key" in shown.stdout and "…0123" in shown.stdout
    body = tmp_path / "body.json"
    body.write_bytes(b'{"type":"sync"}')
    old = signatures.hmac_signature(PREVIOUS, body.read_bytes())
    result = cli("--json", "verify", str(body), "--signature", old)
    assert result.exit_code == 0
    assert jdata(result.stdout)["matched"] == "previous"
    human = cli("verify", str(body), "--signature", old)
    assert "previous key: rotation window" in human.stdout
    current = cli(
        "--json",
        "verify",
        str(body),
        "--signature",
        signatures.hmac_signature(KEY, b'{"type":"sync"}'),
    )
    assert jdata(current.stdout)["matched"] == "current"


def test_signed_with_the_secret_key_is_diagnosed(cli, tmp_path: Path) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    body = tmp_path / "body.json"
    body.write_bytes(b'{"type":"sync"}')
    result = cli(
        "verify", str(body), "--signature", signatures.hmac_signature(SECRET, body.read_bytes())
    )
    assert result.exit_code == 5
    assert "signed with the API secret key, not the webhook signing key" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_listen_accepts_the_previous_key_and_names_the_secret_key(cli) -> None:
    _rotated(cli)
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    data = b'{"from":"nango","type":"sync"}'
    import httpx

    with listening("--json", "--count", "3") as lst:
        for key in (KEY, PREVIOUS, SECRET):
            headers = {"X-Nango-Hmac-Sha256": signatures.hmac_signature(key, data)}
            assert httpx.post(lst.url, content=data, headers=headers).status_code == 200
        _code, out, err = lst.finish()
    current, previous, secret = (e["signature"] for e in lst.events(out))
    assert current["verdict"] == "valid" and current["hmac"]["matched"] == "current"
    assert previous["verdict"] == "valid" and previous["hmac"]["matched"] == "previous"
    assert secret["verdict"] == "invalid" and "API secret key" in secret["hmac"]["reason"]
    assert SECRET not in out + err and PREVIOUS not in out + err


def test_secret_key_never_reaches_history(cli, configured: Receiver, home: Path) -> None:
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    assert cli("fire", "--sync", "s").exit_code == 0
    exported = cli("history", "export", "--reveal")
    assert SECRET not in exported.stdout
    raw = b"".join(p.read_bytes() for p in (home / "data").iterdir() if p.is_file())
    assert SECRET.encode() not in raw


def test_nangos_sdk_accepts_the_rotation_check(cli, nango_node: Path) -> None:
    """A handler written with @nangohq/node that tries both keys passes `check`,
    rotation included; one that knows only the new key fails the rotation check."""
    _rotated(cli)
    with NodeServer(nango_node, SDK_HANDLER, KEY, PREVIOUS) as server:
        # it verifies and fetches nothing: the fetch checks are tests/cli/test_verdicts.py's
        skip = ("--skip", "fetches-records,api-fault", "--api-port", "0")
        result = cli("--json", "check", server.url, *skip)
    checks = {c["name"]: c for c in jpayload(result.stdout)["checks"]}
    assert result.exit_code == 0, checks
    assert checks["rotation"]["verdict"] == "pass"
    assert checks["wrong-key"]["verdict"] == "pass"  # judged: genuine ones got through
    with NodeServer(nango_node, SDK_HANDLER, KEY) as server:
        result = cli("--json", "check", server.url, "--only", "sync,rotation", "--api-port", "0")
    checks = {c["name"]: c for c in jpayload(result.stdout)["checks"]}
    assert result.exit_code == 9 and checks["rotation"]["verdict"] == "fail"


# ---------------------------------------------------------------- the circuit breaker


def _load(cli, *args: str):
    return cli(
        "--json",
        "fire",
        "--sync",
        "s",
        "--count",
        "10",
        "--concurrency",
        "1",
        "--retry-policy",
        "server",
        "--retries",
        "0",
        *args,
    )


def test_the_server_policy_opens_the_circuit_breaker(cli, configured: Receiver, home) -> None:
    configured.default = Behaviour(status=503)
    result = _load(cli)
    assert result.exit_code == 4
    # 5 failures are tolerated, the 6th opens it; the other 4 fail without a request
    assert len(configured.requests) == 6
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    classes = [
        row[0]
        for row in db.execute(
            "SELECT a.error_class FROM attempts a JOIN webhooks w ON w.id = a.webhook_id "
            "ORDER BY a.started_at"
        )
    ]
    assert classes == [None] * 6 + ["circuit_breaker_open"] * 4
    notes = [r[0] for r in db.execute("SELECT note FROM attempts WHERE note IS NOT NULL")]
    assert any("opened the circuit breaker" in n for n in notes)


def test_the_breaker_can_be_turned_off_or_tuned(cli, configured: Receiver) -> None:
    configured.default = Behaviour(status=503)
    assert _load(cli, "--no-circuit-breaker").exit_code == 4
    assert len(configured.requests) == 10
    assert cli("config", "set", "circuit_breaker_failures", "2").exit_code == 0
    assert _load(cli).exit_code == 4
    assert len(configured.requests) == 10 + 3
    assert cli("config", "set", "circuit_breaker", "false").exit_code == 0
    assert _load(cli).exit_code == 4
    assert len(configured.requests) == 13 + 10
    # the docs policy has no breaker
    assert cli("config", "set", "circuit_breaker", "true").exit_code == 0
    assert _load(cli, "--retry-policy", "docs").exit_code == 4
    assert len(configured.requests) == 23 + 10


# ---------------------------------------------------------------- per-connection URLs


def test_a_connection_url_replaces_both_environment_urls(cli, configured: Receiver) -> None:
    with Receiver() as secondary, Receiver() as own:
        assert cli("config", "set", "secondary_url", secondary.url).exit_code == 0
        assert cli("config", "set-url", own.url, "--connection", "conn-own").exit_code == 0
        assert cli("fire", "--sync", "s", "-c", "conn-own").exit_code == 0
        assert [json.loads(r.body)["connectionId"] for r in own.requests] == ["conn-own"]
        assert configured.requests == [] and secondary.requests == []
        assert cli("fire", "--sync", "s", "-c", "conn-other").exit_code == 0
        assert len(configured.requests) == 1 and len(secondary.requests) == 1
        # replay follows the connection too
        rows = jdata(cli("history", "--json").stdout)
        own_id = next(r["id"] for r in rows if r["connection_id"] == "conn-own")
        assert cli("replay", own_id).exit_code == 0
        assert len(own.requests) == 2 and len(configured.requests) == 1
        # and check, when it checks that connection
        result = cli("--json", "check", "--only", "sync", "-c", "conn-own", "--api-port", "0")
        assert jpayload(result.stdout)["url"] == own.url
        assert len(own.requests) == 3
        shown = jdata(cli("--json", "config", "show").stdout)
        assert shown["connections"] == {"conn-own": own.url}
        assert cli("config", "unset-url", "-c", "conn-own").exit_code == 0
        assert cli("fire", "--sync", "s", "-c", "conn-own").exit_code == 0
        assert len(configured.requests) == 2 and len(own.requests) == 3


# ---------------------------------------------------------------- headers


def test_headers_merge_case_insensitively_and_nangos_win(
    cli, configured: Receiver, tmp_path: Path, nango_node: Path
) -> None:
    """Before: `-H 'x-nango-hmac-sha256: spoofed'` went out as `spoofed, <real>`, which
    Nango's SDK rejects; `Accept: */*` doubled accept."""
    event = tmp_path / "event.json"
    event.write_text('{"action": "opened"}')
    _rotated(cli)
    with NodeServer(nango_node, SDK_HANDLER, KEY) as server:
        result = cli(
            "--json",
            "fire",
            "--forward",
            str(event),
            "-i",
            "github",
            "--url",
            server.url,
            "-H",
            "x-nango-hmac-sha256: spoofed",
            "-H",
            "Accept: */*",
            "-H",
            "X-GitHub-Event: issues",
        )
    assert result.exit_code == 0, result.stdout
    (webhook,) = jdata(result.stdout)["webhooks"]
    answer = json.loads(webhook["attempts"][0]["response_body"])
    assert answer["verified"] is True
    seen = answer["headers"]
    assert seen["x-nango-hmac-sha256"] == signatures.hmac_signature(KEY, webhook["body"].encode())
    assert seen["accept"] == "application/json, text/plain, */*"
    assert seen["x-github-event"] == "issues"


def test_external_headers_cannot_spoof_the_signature(cli) -> None:
    import httpx

    assert cli("config", "set-key", KEY).exit_code == 0
    with Receiver() as app:
        with listening(
            "--external",
            "github",
            "-i",
            "github",
            "-c",
            "c1",
            "--forward-to",
            app.url,
            "--count",
            "1",
        ) as lst:
            reply = httpx.post(
                lst.url,
                content=b'{"action":"opened"}',
                headers={
                    "X-Nango-Hmac-Sha256": "spoofed",
                    "ACCEPT": "*/*",
                    "X-GitHub-Event": "issues",
                },
            )
            assert reply.status_code == 200
            lst.finish()
        (forward,) = app.requests
    headers = [(k.lower(), v) for k, v in forward.raw_headers]
    names = [k for k, _ in headers]
    assert names.count("x-nango-hmac-sha256") == 1 and names.count("accept") == 1
    assert dict(headers)["x-nango-hmac-sha256"] == signatures.hmac_signature(KEY, forward.body)


# ---------------------------------------------------------------- JavaScript numbers

# What Nango does with an external payload: JSON.parse, then a stable stringify.
NODE_AS_NANGO = (
    SORT_KEYS_JS
    + r"""
const wrapped = JSON.parse(process.argv[2]);
wrapped.payload = JSON.parse(process.argv[3]);
process.stdout.write(JSON.stringify(sortKeys(wrapped)));
"""
)

BIG = (
    '{"id": 12345678901234567890, "n": 9007199254740993, "safe": 9007199254740991,'
    ' "neg": -18446744073709551616, "e": 1e400, "f": 0.1, "exp": 123456789012345678901234}'
)


def test_forward_bodies_round_big_integers_as_javascript_does(
    cli, configured: Receiver, tmp_path: Path, nango_node: Path
) -> None:
    """Before: integers beyond 2^53 were written exactly, so the bytes (and the legacy
    signature of a receiver that re-serializes) differed from Nango's."""
    event = tmp_path / "event.json"
    event.write_text(BIG.replace(', "e": 1e400', ""))
    result = cli("fire", "--forward", str(event), "-i", "github", "-c", "c1")
    assert result.exit_code == 0, result.stderr
    assert "rounded" in result.stderr  # a note says the bytes changed
    sent = configured.requests[0].body
    envelope = {
        "from": "github",
        "type": "forward",
        "providerConfigKey": "github",
        "connectionId": "c1",
    }
    expected = run_node(nango_node, NODE_AS_NANGO, json.dumps(envelope), event.read_text())
    assert sent == expected.encode()
    assert b"12345678901234567000" in sent and b"9007199254740992" in sent


def test_replay_set_rounds_too_and_raw_bodies_stay_exact(
    cli, configured: Receiver, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text('{"type":"forward","payload":{"id":12345678901234567890}}')
    assert cli("fire", "--body", str(raw)).exit_code == 0
    assert configured.requests[0].body == raw.read_bytes()  # byte-exact
    row = jdata(cli("history", "--json").stdout)[0]
    assert cli("replay", row["id"], "--set", "payload.id=98765432109876543210").exit_code == 0
    assert json.loads(configured.requests[1].body)["payload"]["id"] == 98765432109876540000


@pytest.mark.parametrize("count", ["9007199254740992", "-1", "1.5", "1e3"])
def test_counts_are_safe_non_negative_integers(cli, configured: Receiver, count: str) -> None:
    result = cli("fire", "--sync", "s", "--added", count)
    assert result.exit_code == 2 and configured.requests == []


def test_checkpoint_numbers_beyond_2_53_are_rounded_with_a_note(cli, configured: Receiver) -> None:
    result = cli("fire", "--sync", "s", "--checkpoint-from", '{"offset": 9007199254740993}')
    assert result.exit_code == 0 and "rounded" in result.stderr
    assert (
        json.loads(configured.requests[0].body)["checkpoints"]["from"]["offset"] == 9007199254740992
    )


# ---------------------------------------------------------------- types

TYPECHECK = r"""
import ts from 'typescript';
import fs from 'node:fs';
const bodies = JSON.parse(fs.readFileSync(0, 'utf8'));
const types = {
  sync: 'NangoSyncWebhookBody', auth: 'NangoAuthWebhookBody',
  forward: 'NangoForwardWebhookBody', async_action: 'NangoAsyncActionWebhookBody',
};
let source = "import type { NangoSyncWebhookBody, NangoAuthWebhookBody, " +
  "NangoForwardWebhookBody, NangoAsyncActionWebhookBody } from '@nangohq/types';\n";
bodies.forEach((body, i) => {
  source += `export const body${i}: ${types[body.type]} = ${JSON.stringify(body)};\n`;
});
fs.writeFileSync('bodies-check.ts', source);
const program = ts.createProgram(['bodies-check.ts'], {
  strict: true, noEmit: true, module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  skipLibCheck: true, exactOptionalPropertyTypes: true,
});
const problems = ts.getPreEmitDiagnostics(program).map(
  (d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
process.stdout.write(JSON.stringify({ count: bodies.length, problems }));
"""


def test_every_body_type_checks_against_nangos_types(
    cli, configured: Receiver, tmp_path: Path, nango_node: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"action": "opened"}')
    commands = [
        ["--sync", "s"],
        ["--sync", "s", "--failed", "--checkpoint-from", '{"cursor": "a", "page": 2}'],
        ["--sync", "s", "--initial", "--checkpoint-to", '{"done": true}'],
        ["--auth", "creation", "-i", "g", "--end-user-id", "u1", "--end-user-email", "a@b.c"],
        ["--auth", "override", "-i", "g", "--tag", "team=a"],
        ["--auth", "refresh", "-i", "g", "--failed"],
        ["--auth", "deletion", "-i", "g", "--auth-mode", "unknown", "--provider", "unknown"],
        ["--forward", str(event), "-i", "github"],
        ["--async-action", "-i", "g"],
    ]
    for args in commands:
        assert cli("fire", *args).exit_code == 0, args
    bodies = [b for b in _bodies(configured) if b.get("type") != "forward" or "from" in b]
    checked = json.loads(run_node(nango_node, TYPECHECK, stdin=json.dumps(bodies)))
    assert checked == {"count": len(commands), "problems": []}
