"""`check`'s cases for what Nango changed in 2026 (issue 27), each against a handler
written for the webhooks as they were before, and a correct one:

- refresh recovery (NangoHQ/nango#7202): after a failed refresh, a successful one sends
  `auth` / `refresh` with `success: true` (packages/webhooks/lib/auth.ts, sendAuth);
- checkpoint syncs: a sync webhook's `checkpoints` is absent, null, or `{from: null}` on
  a first run (@nangohq/types 0.71.10, NangoSyncWebhookBodySuccess);
- a forwarded external webhook that matches no connection arrives unwrapped, the
  external API's own body (packages/webhooks/lib/forward.ts);
- GET /records refuses a `modified_after` older than 12 months
  (packages/server/lib/controllers/records/getRecords.ts, `withinLookback`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.test_check_cmd import _free_port, _run, _valid, handler
from tests.conftest import KEY, jpayload


@pytest.fixture(autouse=True)
def key(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0


def _written_for_before(headers: dict, body: bytes, seen: dict) -> int | tuple[int, bytes]:
    """Verifies, then reads the fields it always found before 2026."""
    if not _valid(headers, body):
        return 401
    data: dict[str, Any] = json.loads(body)
    try:
        kind = data["type"]  # a raw forward has none
        if kind == "auth" and data["operation"] == "refresh":
            _ = data["error"]["type"]  # "refresh webhooks are failures"
        if kind == "sync" and data.get("success") and "checkpoints" in data:
            _ = data["checkpoints"]["from"]["cursor"]  # "when there, from is set"
    except (KeyError, TypeError) as exc:
        return 500, f"handler crashed: {exc!r}".encode()
    return 200


@pytest.mark.parametrize(
    ("check", "said"),
    [
        ("auth-refresh-recovery", "branch on `success` before reading `error`"),
        ("sync-checkpoints", "checkpoints?.from"),
        ("forward-unmatched", "a body without `type`"),
    ],
)
def test_each_2026_change_fails_a_handler_written_for_before(cli, check: str, said: str) -> None:
    with handler(_written_for_before) as url:
        code, checks = _run(cli, url, "--only", f"sync,{check}")
    assert code == 9
    assert checks[check]["verdict"] == "fail", checks[check]
    assert "500" in checks[check]["happened"]
    assert said in checks[check]["fix"]
    assert checks[check]["why"] and (
        "2026" in checks[check]["why"] or "unwrapped" in checks[check]["why"]
    )


def test_a_handler_that_takes_them_passes(cli) -> None:
    def tolerant(headers: dict, body: bytes, seen: dict) -> int:
        return 200 if _valid(headers, body) else 401

    with handler(tolerant) as url:
        code, checks = _run(
            cli, url, "--only", "sync,auth-refresh-recovery,sync-checkpoints,forward-unmatched"
        )
    assert code == 0
    assert {n: c["verdict"] for n, c in checks.items()} == dict.fromkeys(checks, "pass")
    assert len(checks["sync-checkpoints"]["webhook_ids"]) == 3


def test_the_three_checkpoint_forms_are_sent(cli) -> None:
    seen: list[Any] = []

    def keep(headers: dict, body: bytes, state: dict) -> int:
        data = json.loads(body)
        if data.get("type") == "sync":
            seen.append(data.get("checkpoints", "absent"))
        return 200

    with handler(keep) as url:
        _run(cli, url, "--only", "sync-checkpoints")
    assert sorted(map(json.dumps, seen)) == sorted(
        map(
            json.dumps,
            ["absent", None, {"from": None, "to": {"cursor": "nango-hooks-check", "page": 1}}],
        )
    )


def test_a_modified_after_beyond_the_lookback_is_named(cli) -> None:
    """A handler that fetches from a time of its own, 13 months back: Nango refuses it;
    check says so and what to send instead."""
    from tests.handlers.aiohttp_app import Bugs, PyHandler

    port = _free_port()
    with PyHandler(KEY, f"http://127.0.0.1:{port}", "any", Bugs(stale_modified_after=True)) as h:
        result = cli("--json", "check", h.url, "--api-port", str(port), "--only", "sync")
    assert result.exit_code == 9, result.stdout
    (sync,) = jpayload(result.stdout)["checks"]
    assert sync["verdict"] == "fail"
    assert "older than 12 months" in sync["cause"], sync
    assert "invalid_query_params" in sync["cause"]
