"""The public Python API (nango_cli/__init__.py, docs/python-api.md): what `__all__`
promises, a user's script type-checked with mypy --strict, and the webhooks it
builds judged by Nango's own SDK."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nango_cli
from tests.conftest import ROOT
from tests.nango_node import SDK_HANDLER, NodeServer
from tests.receiver import Receiver

KEY = "whsec-python-api-0123456789"


def test_all_equals_the_public_names() -> None:
    """As httpx's tests/test_exported_members.py: nothing public that is not promised,
    nothing promised that is not there."""
    promised = set(nango_cli.__all__)
    for name in promised:
        assert getattr(nango_cli, name) is not None, name
    found = {
        name
        for name in dir(nango_cli)
        if not name.startswith("_") and not inspect.ismodule(getattr(nango_cli, name))
    }
    assert found == promised - {"__version__"}
    assert len(nango_cli.__all__) == len(promised)  # no name listed twice


def test_import_stays_cheap() -> None:
    """`import nango_cli` runs on every CLI start: the API is loaded on first use."""
    code = (
        "import nango_cli, sys; print(sorted(m for m in sys.modules if m.startswith('nango_cli')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(loaded.stdout.replace("'", '"')) == ["nango_cli"]


def test_errors_name_parameters_not_flags() -> None:
    with pytest.raises(nango_cli.UsageError) as bad_type:
        nango_cli.sync_webhook(
            sync="s", model="M", connection_id="c", integration="i", signing_key=KEY, sync_type="x"
        )
    assert "sync_type must be one of" in bad_type.value.message
    with pytest.raises(nango_cli.UsageError) as no_key:
        nango_cli.auth_webhook(connection_id="c", integration="i", signing_key=None)
    assert "signing_key is required" in no_key.value.message
    for webhook in (bad_type.value, no_key.value):
        assert "--" not in webhook.message


def test_build_sign_verify_and_deliver(tmp_path: Path) -> None:
    webhook = nango_cli.sync_webhook(
        sync="github-issues",
        model="GithubIssue",
        connection_id="c-1",
        integration="github",
        signing_key=KEY,
        added=3,
        deleted=1,
        modified_after="2026-11-26T12:00:00Z",
    )
    body = webhook.json()
    assert body["responseResults"] == {"added": 3, "updated": 0, "deleted": 1}
    assert body["modifiedAfter"] == "2026-11-26T12:00:00.000Z"
    assert webhook.connection_id == "c-1" and webhook.type == "sync"
    assert list(webhook.headers)[-2:] == ["X-Nango-Hmac-Sha256", "X-Nango-Signature"]
    checked = nango_cli.verify(webhook.body, webhook.headers, KEY)
    assert checked.valid and checked.state == "valid" and checked.explanation is None
    # A rotation: the previous key still verifies, and says so.
    rotated = nango_cli.verify(webhook.body, webhook.headers, ["new-key-0123456789", KEY])
    assert rotated.valid and rotated.matched == "previous"
    tampered = nango_cli.verify(webhook.body + b" ", webhook.headers, KEY)
    assert not tampered.valid and "whitespace" in (tampered.explanation or "")
    with Receiver() as receiver:
        result = nango_cli.deliver(webhook, receiver.url)
        (received,) = receiver.requests
    assert result.delivered and [a.status_code for a in result.attempts] == [200]
    assert received.body == webhook.body
    assert received.headers["X-Nango-Hmac-Sha256"] == webhook.headers["X-Nango-Hmac-Sha256"]


def test_deliver_retries_with_nangos_policy_through_a_mock_sender() -> None:
    """A MockSender takes a function for the network: 500, then 200 (docs policy)."""
    answers = iter([nango_cli.MockResponse(500), nango_cli.MockResponse(200, {}, b"ok")])
    sender = nango_cli.MockSender(lambda request: next(answers))
    waits: list[float] = []
    webhook = nango_cli.async_action_webhook(connection_id="c", integration="i", signing_key=KEY)
    result = nango_cli.deliver(webhook, "http://app.test/hooks", sender=sender, sleep=waits.append)
    assert [a.status_code for a in result.attempts] == [500, 200] and result.delivered
    assert waits == [0.1]
    assert [r.body for r in sender.requests] == [webhook.body] * 2


def test_nangos_sdk_accepts_what_the_api_signs(nango_node: Path) -> None:
    webhooks = [
        nango_cli.sync_webhook(
            sync="s", model="M", connection_id="c", integration="i", signing_key=KEY
        ),
        nango_cli.auth_webhook("deletion", connection_id="c", integration="i", signing_key=KEY),
        nango_cli.forward_webhook(
            {"n": 12345678901234567891, "é": "\u2028"},
            integration="github",
            connection_id="c",
            signing_key=KEY,
            headers={"X-GitHub-Event": "issues", "Authorization": "dropped"},
        ),
        nango_cli.sign_webhook({"type": "future", "b": 1, "a": [1.0, -0.0]}, KEY),
    ]
    bad = nango_cli.sync_webhook(
        sync="s", model="M", connection_id="c", integration="i", signing_key=KEY, sign="bad"
    )
    import httpx

    with NodeServer(nango_node, SDK_HANDLER, KEY) as handler:
        verdicts = [
            httpx.post(handler.url, content=w.body, headers=w.headers).json()["verified"]
            for w in [*webhooks, bad]
        ]
    assert verdicts == [True, True, True, True, False]
    assert "authorization" not in {k.lower() for k in webhooks[2].headers}


USER_SCRIPT = """
import nango_cli
from nango_cli import SignedWebhook, Verification


def build(key: str) -> SignedWebhook:
    return nango_cli.sync_webhook(
        sync="github-issues", model="GithubIssue", connection_id="c-1",
        integration="github", signing_key=key, added=2,
    )


def check(webhook: SignedWebhook, key: str) -> bool:
    found: Verification = nango_cli.verify(webhook.body, webhook.headers, key)
    return found.valid


def send(webhook: SignedWebhook, url: str) -> list[int | None]:
    result = nango_cli.deliver(webhook, url, policy="server", retries=1, timeout=5.0)
    return [attempt.status_code for attempt in result.attempts]
"""


def test_a_user_script_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "broken.py"
    broken.write_text(USER_SCRIPT + "\nx: int = nango_cli.verify(b'', {}, 'k').valid + ''\n")
    failed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(broken)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert failed.returncode == 1 and "broken.py" in failed.stdout  # mypy does see the types
