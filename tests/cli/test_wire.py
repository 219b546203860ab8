"""What nango-hooks puts on the wire, captured by a real receiver: the same request
from every transport, the same headers as Nango's own axios, https targets."""

from __future__ import annotations

import json
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from nango_cli.protocol import signatures
from tests.conftest import KEY, jdata, run
from tests.nango_node import run_node
from tests.receiver import Receiver

FIXED = ["--sync", "s", "-i", "prov", "-m", "Model", "-c", "conn-1"]
FIXED += ["--modified-after", "2026-11-01T00:00:00.000Z"]
ALLOWED_TO_DIFFER = {"host", "content-length", "x-nango-hmac-sha256", "x-nango-signature"}


def _headers(request: object) -> dict[str, str]:
    return {name.lower(): value for name, value in request.raw_headers}  # type: ignore[attr-defined]


def test_fire_and_fire_count_1_put_the_same_request_on_the_wire(home: Path) -> None:
    """Before, `fire` sent Accept-Encoding: identity and `fire --count 1` gzip, deflate."""
    env = {"NANGO_HOOKS_SIGNING_KEY": KEY}
    with Receiver() as receiver:
        single = run("fire", *FIXED, "--url", receiver.url, env=env)
        load = run("fire", *FIXED, "--url", receiver.url, "--count", "1", env=env)
        assert single.returncode == 0 and load.returncode == 0, single.stderr + load.stderr
        first, second = receiver.requests
    a, b = _headers(first), _headers(second)
    assert {k: v for k, v in a.items() if k not in ALLOWED_TO_DIFFER} == {
        k: v for k, v in b.items() if k not in ALLOWED_TO_DIFFER
    }
    assert first.body == second.body and first.method == second.method == "POST"
    assert a["accept-encoding"] == "gzip, compress, deflate, br"


AXIOS_AS_NANGO = r"""
import axios from 'axios';
import http from 'node:http';
import https from 'node:https';
// As Nango's server delivers a webhook (packages/webhooks, packages/utils/lib/axios.ts).
const [url, body, hmac, legacy, userAgent] = process.argv.slice(2);
const client = axios.create({
  proxy: false, httpAgent: new http.Agent(), httpsAgent: new https.Agent(),
});
await client.post(url, body, {
  headers: {
    'X-Nango-Signature': legacy,
    'X-Nango-Hmac-Sha256': hmac,
    'content-type': 'application/json',
    'user-agent': userAgent,
  },
  timeout: 20000,
});
"""


def test_fire_sends_the_headers_nangos_axios_sends(home: Path, nango_node: Path) -> None:
    """The same header set as Nango's delivery (axios 1.18 on Node.js), but for
    Connection: nango-hooks keeps the connection alive (docs/fidelity.md)."""
    from nango_cli.protocol.vocabulary import USER_AGENT

    env = {"NANGO_HOOKS_SIGNING_KEY": KEY}
    with Receiver() as receiver:
        assert run("fire", *FIXED, "--url", receiver.url, env=env).returncode == 0
        (ours,) = receiver.requests
        body = ours.body.decode()
        run_node(
            nango_node,
            AXIOS_AS_NANGO,
            receiver.url,
            body,
            signatures.hmac_signature(KEY, ours.body),
            signatures.legacy_signature(KEY, ours.body),
            USER_AGENT,
        )
        _, nangos = receiver.requests
    assert nangos.body == ours.body
    mine, theirs = _headers(ours), _headers(nangos)
    assert theirs.pop("connection") == "close" and mine.pop("connection") == "keep-alive"
    assert mine == theirs


def test_replay_of_a_default_export_drops_the_redacted_headers(
    cli, home: Path, tmp_path: Path
) -> None:
    """Before: `history export` (credentials redacted as "…redacted") then `replay --file`
    failed with a latin-1 'network' error, exit 4, nothing sent."""
    with Receiver() as receiver:
        assert cli("config", "set-url", receiver.url).exit_code == 0
        assert cli("config", "set-key", KEY).exit_code == 0
        fired = cli("--json", "fire", "--sync", "s", "-i", "s", "-m", "S")
        (webhook,) = jdata(fired.stdout)["webhooks"]
        db = sqlite3.connect(home / "data" / "history.sqlite3")
        headers = {**webhook["headers"], "Authorization": "Bearer tok-1", "X-Keep": "yes"}
        db.execute(
            "UPDATE webhooks SET headers = ? WHERE id = ?", (json.dumps(headers), webhook["id"])
        )
        db.commit()
        export = tmp_path / "captured.jsonl"
        assert cli("history", "export", "-o", str(export)).exit_code == 0
        assert "tok-1" not in export.read_text()
        replayed = cli("replay", "--file", str(export))
        assert replayed.exit_code == 0, replayed.stderr
        assert "sent without Authorization" in replayed.stderr and "--reveal" in replayed.stderr
        sent = receiver.requests[-1]
    names = {k.lower() for k in sent.headers}
    assert "authorization" not in names and sent.headers.get("X-Keep") == "yes"
    assert sent.body == receiver.requests[0].body


@pytest.fixture(scope="module")
def https_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    import trustme

    ca = trustme.CA()
    ca_path = tmp_path_factory.mktemp("tls") / "rootCA.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with Receiver() as receiver:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        yield receiver, ca_path


def test_https_targets_with_ca_cert_or_insecure(
    home: Path, https_receiver: tuple[Receiver, Path]
) -> None:
    receiver, ca_path = https_receiver
    url = receiver.url.replace("http://", "https://")
    env = {"NANGO_HOOKS_SIGNING_KEY": KEY, "SSL_CERT_FILE": "", "SSL_CERT_DIR": ""}
    args = ["fire", *FIXED, "--url", url, "--retry-policy", "none"]
    untrusted = run(*args, env=env)
    assert untrusted.returncode == 4 and "tls: TLS certificate not trusted" in untrusted.stderr
    trusted = run(*args, "--ca-cert", str(ca_path), env=env)
    assert trusted.returncode == 0, trusted.stderr
    insecure = run(*args, "--insecure", env=env)
    assert insecure.returncode == 0 and "warning: --insecure" in insecure.stderr
    bad_ca = run(*args, "--ca-cert", str(ca_path.parent / "missing.pem"), env=env)
    assert bad_ca.returncode == 2 and "--ca-cert" in bad_ca.stderr
