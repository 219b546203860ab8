from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from nango_cli.protocol import serialization, signatures, vocabulary
from tests.conftest import jdata, jpayload
from tests.receiver import Receiver

VECTOR_HMAC = "b82fcb791acec57859b989b430a826488ce2e479fdf92326bd0a2e8375a42ba4"
VECTOR_LEGACY = "22439a879b090cd05e5b51c5b5d7e4a205830e6ab4f54b90f5a822b7c7110934"


def test_verify_the_spec_vectors(cli, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"payload")
    ok = cli("verify", str(body), "--signature", VECTOR_HMAC, "--key", "secret")
    assert ok.exit_code == 0 and "valid" in ok.stdout
    legacy = cli("verify", str(body), "--signature", VECTOR_LEGACY, "--legacy", "--key", "secret")
    assert legacy.exit_code == 0
    wrong = cli("verify", str(body), "--signature", VECTOR_LEGACY, "--key", "secret")
    assert wrong.exit_code == 5 and "invalid X-Nango-Hmac-Sha256" in wrong.stderr
    piped = cli("verify", "-", "-s", VECTOR_HMAC, "--key", "secret", input="payload")
    assert piped.exit_code == 0


def test_verify_explains_editor_newlines_and_reserialization(cli, tmp_path: Path) -> None:
    data = serialization.serialize({"b": 1, "a": [1, 2]})
    signature = signatures.hmac_signature("k3y", data)
    body = tmp_path / "body.json"
    body.write_bytes(data + b"\n")
    newline = cli("verify", str(body), "-s", signature, "--key", "k3y")
    assert newline.exit_code == 5 and "newline" in newline.stderr
    body.write_text(json.dumps({"b": 1, "a": [1, 2]}, indent=2))
    pretty = cli("--json", "verify", str(body), "-s", signature, "--key", "k3y")
    assert pretty.exit_code == 5
    assert "re-serialized" in jpayload(pretty.stdout)["reason"]


def test_verify_uses_the_environment_key(cli, tmp_path: Path) -> None:
    body = tmp_path / "b"
    body.write_bytes(b"payload")
    missing = cli("verify", str(body), "-s", VECTOR_HMAC)
    assert missing.exit_code == 3 and "--key" in missing.stderr
    cli("config", "set-key", "secret")
    assert cli("verify", str(body), "-s", VECTOR_HMAC).exit_code == 0


def test_sign_round_trips_with_verify(cli, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{ "z": 1, "a": "é" }\n')
    signed = cli("--json", "sign", str(body), "--key", "kk")
    doc = jdata(signed.stdout)
    assert doc["body"] == '{"a":"é","z":1}'  # stable serialization
    serialized = tmp_path / "serialized.json"
    serialized.write_bytes(doc["body"].encode())
    hmac_header = doc["headers"][vocabulary.HMAC_HEADER]
    assert cli("verify", str(serialized), "-s", hmac_header, "--key", "kk").exit_code == 0
    raw = jdata(cli("--json", "sign", str(body), "--raw", "--key", "kk").stdout)
    assert raw["headers"][vocabulary.HMAC_HEADER] == signatures.hmac_signature(
        "kk", body.read_bytes()
    )
    assert cli("sign", str(tmp_path / "nope"), "--key", "k").exit_code == 2
    not_json = tmp_path / "x.txt"
    not_json.write_text("hello")
    assert cli("sign", str(not_json), "--key", "k").exit_code == 2


def test_sign_curl_command_runs_and_verifies(cli, tmp_path: Path, receiver: Receiver) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"type":"sync","note":"it\'s quoted"}')
    command = cli("sign", str(body), "--key", "kk", "--curl", receiver.url).stdout.strip()
    assert command.startswith("curl ")
    subprocess.run(shlex.split(command), check=True, capture_output=True, timeout=30)
    (request,) = receiver.requests
    assert request.body == b'{"note":"it\'s quoted","type":"sync"}'
    assert request.headers["X-Nango-Hmac-Sha256"] == signatures.hmac_signature("kk", request.body)
