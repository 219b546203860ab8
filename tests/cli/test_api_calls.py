"""The calls a backend makes to Nango's API, answered as Nango's controllers answer
them, and the webhooks they cause under `nango-hooks api --webhooks` (issue 27).

Each test names the Nango source it follows (NangoHQ/nango at 0.71.x):
- packages/server/lib/controllers/sync/postTrigger.ts, postSyncStart.ts,
  postSyncPause.ts, getSyncStatus.ts (validation; runSyncCommand's refusals, with the
  statuses and messages of packages/shared/lib/utils/error.ts);
- packages/server/lib/controllers/connection/connectionId/getConnection.ts,
  deleteConnection.ts, patchConnection.ts (and @nangohq/types 0.71.10's
  PatchPublicConnection for `webhook_url_override`);
- packages/records/lib/models/records.ts (`to_json(created_at) as first_seen_at`);
- the async action's webhook body (`payload: {id, statusUrl: /action/{id}}`).
Every call runs against a real `nango-hooks api` process; the webhooks it causes
reach a real receiver.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Cli, run
from tests.listening import Listening, serving
from tests.nango_node import run_node
from tests.receiver import Receiver

AUTH = {"Authorization": "Bearer any"}


@pytest.fixture
def api(cli: Cli, configured: Receiver) -> Iterator[Listening]:
    """`api --webhooks` with connection c1 of integration `s` holding three S records."""
    fired = cli("fire", "--sync", "s", "-c", "c1", "--added", "3", "--json")
    assert fired.exit_code == 0, fired.stderr
    configured.requests.clear()
    with serving("api", "Nango API on", "--webhooks") as server:
        yield server


def _post(api: Listening, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{api.url}{path}", json=body, headers=AUTH, **kwargs)


def _error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["code"] == code, error
    return error


def _arrived(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while len(receiver.requests) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [json.loads(r.body) for r in receiver.requests]


def _records(api: Listening, connection: str = "c1") -> httpx.Response:
    headers = {**AUTH, "Connection-Id": connection, "Provider-Config-Key": "s"}
    return httpx.get(f"{api.url}/records", params={"model": "S"}, headers=headers)


def test_metadata_times_are_postgres_json_not_javascript(api: Listening) -> None:
    """records.ts selects `to_json(created_at)`: an offset, no trailing zeros. Before:
    `2026-12-06T05:00:00.120Z`."""
    meta = _records(api).json()["records"][0]["_nango_metadata"]
    for name in ("first_seen_at", "last_modified_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?\+00:00", meta[name]), meta


@pytest.mark.parametrize("verb", ["start", "pause"])
@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({"syncs": ["s"], "provider_config_key": "s", "extra": 1}, "unrecognized_keys"),
        (
            {"syncs": [{"name": "s", "variant": "base", "x": 1}], "provider_config_key": "s"},
            "invalid_union",
        ),
        ({"syncs": "s", "provider_config_key": "s"}, "invalid_type"),
        ({"syncs": ["s"]}, "invalid_type"),
    ],
)
def test_start_and_pause_bodies_are_strict(
    api: Listening, verb: str, body: dict[str, Any], issue: str
) -> None:
    """postSyncStart.ts / postSyncPause.ts: z.strictObject. Before: 200, or
    `missing_provider_config_key`."""
    error = _error(_post(api, f"/sync/{verb}", body), 400, "invalid_body")
    assert [e["code"] for e in error["errors"]] == [issue]


@pytest.mark.parametrize("verb", ["trigger", "start", "pause"])
def test_unknown_sync_connection_and_integration(api: Listening, verb: str) -> None:
    """runSyncCommand's refusals (error.ts): before, 200 for an unknown sync, 400 for an
    unknown connection, `unknown_connection` for an unknown integration."""
    base = {"provider_config_key": "s", "connection_id": "c1"}
    error = _error(_post(api, f"/sync/{verb}", {**base, "syncs": ["nope"]}), 400, "no_syncs_found")
    assert "No syncs found given the inputs." in error["message"]
    _error(
        _post(api, f"/sync/{verb}", {**base, "syncs": ["s"], "connection_id": "c404"}),
        404,
        "unknown_connection",
    )
    _error(
        _post(api, f"/sync/{verb}", {**base, "syncs": ["s"], "provider_config_key": "nope"}),
        400,
        "unknown_provider_config",
    )
    assert _post(api, f"/sync/{verb}", {**base, "syncs": ["s"]}).json() == {"success": True}


def test_trigger_refuses_a_query_and_opts_with_sync_mode(api: Listening) -> None:
    """postTrigger.ts: requireEmptyQuery, and the SDK sends opts or the deprecated
    sync_mode, never both. Before: 200 for both."""
    body = {"syncs": ["s"], "provider_config_key": "s", "connection_id": "c1"}
    _error(_post(api, "/sync/trigger?x=1", body), 400, "invalid_query_params")
    both = {**body, "opts": {"emptyCache": True}, "sync_mode": "incremental"}
    _error(_post(api, "/sync/trigger", both), 400, "invalid_body")
    _error(_post(api, "/sync/trigger", {**body, "opts": {"wipe": True}}), 400, "invalid_body")
    _error(_post(api, "/sync/trigger", {**body, "sync_mode": "all"}), 400, "invalid_body")


def test_pause_and_start_show_in_the_status(api: Listening) -> None:
    """getSyncStatus.ts: `syncs` is `*` or a comma list; one entry per connection."""
    query = {"syncs": "*", "provider_config_key": "s", "connection_id": "c1"}

    def status() -> dict[str, Any]:
        reply = httpx.get(f"{api.url}/sync/status", params=query, headers=AUTH)
        assert reply.status_code == 200, reply.text
        (only,) = reply.json()["syncs"]
        return dict(only)

    running = status()
    assert (running["name"], running["connection_id"], running["status"]) == ("s", "c1", "SUCCESS")
    assert running["recordCount"] == {"S": 3}
    assert running["latestResult"] == {"S": {"added": 3, "updated": 0, "deleted": 0}}
    body = {"syncs": ["s"], "provider_config_key": "s", "connection_id": "c1"}
    assert _post(api, "/sync/pause", body).json() == {"success": True}
    assert status()["status"] == "PAUSED"
    assert _post(api, "/sync/start", body).json() == {"success": True}
    assert status()["status"] == "SUCCESS"
    missing = httpx.get(
        f"{api.url}/sync/status", params={**query, "connection_id": "c404"}, headers=AUTH
    )
    _error(missing, 400, "invalid_body")
    _error(
        httpx.get(f"{api.url}/sync/status", params={"syncs": "*"}, headers=AUTH),
        400,
        "invalid_query_params",
    )


@pytest.mark.parametrize("value", ["maybe", "1", "TRUE"])
def test_force_refresh_is_a_string_boolean(api: Listening, value: str) -> None:
    """getConnection.ts: stringBool. Before: 200 for any value."""
    params = {"provider_config_key": "s", "force_refresh": value}
    reply = httpx.get(f"{api.url}/connections/c1", params=params, headers=AUTH)
    _error(reply, 400, "invalid_query_params")
    params["force_refresh"] = "true"
    assert httpx.get(f"{api.url}/connections/c1", params=params, headers=AUTH).status_code == 200


def test_delete_removes_the_connection_and_sends_the_deletion_webhook(
    api: Listening, configured: Receiver
) -> None:
    """deleteConnection.ts; the auth webhook Nango sends on deletion. Before: 404."""
    gone = httpx.delete(
        f"{api.url}/connections/c1", params={"provider_config_key": "s"}, headers=AUTH
    )
    assert gone.json() == {"success": True}
    (deletion,) = _arrived(configured, 1)
    assert (deletion["type"], deletion["operation"], deletion["connectionId"]) == (
        "auth",
        "deletion",
        "c1",
    )
    _error(_records(api), 400, "unknown_connection")
    again = httpx.delete(
        f"{api.url}/connection/c1", params={"provider_config_key": "s"}, headers=AUTH
    )
    assert again.status_code == 400 and again.json() == {"error": {"code": "unknown_connection"}}


def test_no_deletion_webhook_when_the_environment_sends_none(
    cli: Cli, api: Listening, configured: Receiver
) -> None:
    assert cli("config", "set", "send_connection_deletions", "false").exit_code == 0
    gone = httpx.delete(
        f"{api.url}/connections/c1", params={"provider_config_key": "s"}, headers=AUTH
    )
    assert gone.json() == {"success": True}
    deadline = time.monotonic() + 10
    while "send_connection_deletions" not in api.err_path.read_text():
        assert time.monotonic() < deadline, api.err_path.read_text()
        time.sleep(0.05)
    assert configured.requests == []


def test_webhook_url_override_routes_later_webhooks(cli: Cli, api: Listening) -> None:
    """patchConnection.ts with PatchPublicConnection's `webhook_url_override`: the
    override replaces both environment URLs; "" clears it. Before: 404."""
    with Receiver() as tunnel:
        url = f"{api.url}/connections/c1"
        query = {"provider_config_key": "s"}
        patched = httpx.patch(
            url, params=query, json={"webhook_url_override": tunnel.url}, headers=AUTH
        )
        assert patched.json() == {"success": True}
        shown = httpx.get(url, params=query, headers=AUTH).json()
        assert shown["webhook_url_override"] == tunnel.url
        assert cli("fire", "--sync", "s", "-c", "c1", "--added", "1").exit_code == 0
        assert [json.loads(r.body)["connectionId"] for r in tunnel.requests] == ["c1"]
        cleared = httpx.patch(url, params=query, json={"webhook_url_override": ""}, headers=AUTH)
        assert cleared.json() == {"success": True}
        assert httpx.get(url, params=query, headers=AUTH).json()["webhook_url_override"] is None
        assert cli("fire", "--sync", "s", "-c", "c1", "--added", "1").exit_code == 0
        assert len(tunnel.requests) == 1
        _error(
            httpx.patch(url, params=query, json={"webhook_url_override": "ftp://x"}, headers=AUTH),
            400,
            "invalid_body",
        )


def test_trigger_with_empty_cache_reannounces_every_live_record(
    api: Listening, configured: Receiver
) -> None:
    """@nangohq/node's triggerSync opts `emptyCache`: the records are emptied, the run
    finds them again, so the completion webhook announces all of them as added."""
    before = sorted(r["id"] for r in _records(api).json()["records"])
    body = {
        "syncs": ["s"],
        "provider_config_key": "s",
        "connection_id": "c1",
        "opts": {"emptyCache": True},
    }
    assert _post(api, "/sync/trigger", body).json() == {"success": True}
    (webhook,) = _arrived(configured, 1)
    assert webhook["responseResults"] == {"added": 3, "updated": 0, "deleted": 0}
    page = _records(api).json()["records"]
    assert sorted(r["id"] for r in page) == before
    assert {r["_nango_metadata"]["last_action"] for r in page} == {"ADDED"}


def test_async_action_answers_an_id_and_sends_its_webhook(
    api: Listening, configured: Receiver
) -> None:
    headers = {**AUTH, "Connection-Id": "c1", "Provider-Config-Key": "s", "X-Async": "true"}
    started = httpx.post(
        f"{api.url}/action/trigger", json={"action_name": "a", "input": {}}, headers=headers
    )
    assert started.status_code == 202, started.text
    answer = started.json()
    assert answer["statusUrl"] == f"/action/{answer['id']}"
    (webhook,) = _arrived(configured, 1)
    assert webhook["type"] == "async_action"
    assert webhook["payload"] == {"id": answer["id"], "statusUrl": answer["statusUrl"]}
    result = httpx.get(f"{api.url}{answer['statusUrl']}", headers=AUTH)
    assert result.status_code == 200 and result.json()["success"] is True


NODE_CALLS = r"""
import { Nango } from '@nangohq/node';
const nango = new Nango({ host: process.argv[2], secretKey: 'any' });
const out = {};
await nango.triggerSync('s', ['s'], 'c1', { emptyCache: true });
await nango.pauseSync('s', ['s'], 'c1');
out.paused = (await nango.syncStatus('s', '*', 'c1')).syncs.map((s) => s.status);
await nango.startSync('s', ['s'], 'c1');
out.started = (await nango.syncStatus('s', ['s'], 'c1')).syncs.map((s) => s.status);
try { await nango.triggerSync('s', ['nope'], 'c1'); } catch (e) { out.unknown = e.response.data; }
await nango.patchConnection({ connectionId: 'c1', provider_config_key: 's' },
                            { webhook_url_override: process.argv[3] });
out.override = (await nango.getConnection('s', 'c1')).webhook_url_override;
const action = await nango.triggerActionAsync('s', 'c1', 'a', {});
out.action = await nango.getAsyncActionResult(action);
console.log(JSON.stringify(out));
"""
NODE_DELETE = r"""
import { Nango } from '@nangohq/node';
const nango = new Nango({ host: process.argv[2], secretKey: 'any' });
console.log(JSON.stringify((await nango.deleteConnection('s', 'c1')).data));
"""


def _kinds(receiver: Receiver, wanted: set[str]) -> set[str]:
    deadline = time.monotonic() + 10
    while True:
        kinds = {json.loads(r.body)["type"] for r in receiver.requests}
        if wanted <= kinds or time.monotonic() > deadline:
            return kinds
        time.sleep(0.05)


def test_the_sdk_calls_each_endpoint(api: Listening, nango_node: Path) -> None:
    """Each endpoint through @nangohq/node 0.71.10's own method; the webhooks caused
    after the override was set go to the override."""
    with Receiver() as tunnel:
        out = json.loads(run_node(nango_node, NODE_CALLS, api.url, tunnel.url))
        assert out["paused"] == ["PAUSED"] and out["started"] == ["SUCCESS"]
        assert out["unknown"]["error"]["code"] == "no_syncs_found"
        assert out["override"] == tunnel.url
        assert out["action"]["success"] is True
        assert "async_action" in _kinds(tunnel, {"async_action"}), api.err_path.read_text()
        assert json.loads(run_node(nango_node, NODE_DELETE, api.url)) == {"success": True}
        assert "auth" in _kinds(tunnel, {"auth"}), api.err_path.read_text()


def test_rotating_the_signing_key_signs_the_next_webhook_with_the_new_one(
    cli: Cli, api: Listening, configured: Receiver
) -> None:
    """postPublicRotateWebhookSigningKey.ts (routes.public.ts:
    POST /environment/webhook-signing-key/rotate): `{data: {webhook_signing_key}}`; the
    old key stays as previous_signing_key, so both verify meanwhile."""
    import hashlib
    import hmac

    from tests.conftest import KEY

    _error(
        _post(api, "/environment/webhook-signing-key/rotate?x=1", None), 400, "invalid_query_params"
    )
    rotated = _post(api, "/environment/webhook-signing-key/rotate", None)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["data"]["webhook_signing_key"]
    said = api.err_path.read_text()
    assert new != KEY and KEY not in said and new not in said
    shown = cli("config", "get", "previous_signing_key", "--reveal")
    assert shown.stdout.strip() == KEY, shown.stderr
    assert cli("fire", "--sync", "s", "-c", "c1", "--added", "1").exit_code == 0
    (sent,) = configured.requests
    expected = hmac.new(new.encode(), sent.body, hashlib.sha256).hexdigest()
    headers = {name.lower(): value for name, value in sent.headers.items()}
    assert headers["x-nango-hmac-sha256"] == expected
    # the old key still verifies (the rotation window), as previous_signing_key
    old = hmac.new(KEY.encode(), sent.body, hashlib.sha256).hexdigest()
    path = api.err_path.parent / "body.json"
    path.write_bytes(sent.body)
    assert cli("verify", str(path), "--signature", expected).exit_code == 0
    assert cli("verify", str(path), "--signature", old).exit_code == 0


def test_an_action_result_given_on_the_command_line_is_what_the_action_gives(
    cli: Cli, configured: Receiver
) -> None:
    """`--action-result NAME=JSON`: the result POST /action/trigger gives for that action
    (at once, or at GET /action/{id} with X-Async); other actions get the default."""
    assert cli("fire", "--auth", "creation", "-i", "s", "-c", "c1").exit_code == 0
    headers = {**AUTH, "Connection-Id": "c1", "Provider-Config-Key": "s"}
    with serving("api", "Nango API on", "--action-result", 'create-issue={"issue": 7}') as api:
        at_once = httpx.post(
            f"{api.url}/action/trigger", json={"action_name": "create-issue"}, headers=headers
        )
        assert at_once.json() == {"issue": 7}
        started = httpx.post(
            f"{api.url}/action/trigger",
            json={"action_name": "create-issue"},
            headers={**headers, "X-Async": "true"},
        ).json()
        kept = httpx.get(f"{api.url}{started['statusUrl']}", headers=AUTH)
        assert kept.json() == {"issue": 7}
        other = httpx.post(
            f"{api.url}/action/trigger", json={"action_name": "other"}, headers=headers
        )
        assert other.json()["success"] is True
    bad = run("api", "--port", "0", "--action-result", "create-issue={nope")
    assert bad.returncode == 2 and "--action-result create-issue: not valid JSON" in bad.stderr


def test_an_override_is_enough_without_an_environment_url(cli: Cli, api: Listening) -> None:
    """Before: `fire` refused with "no webhook URL for environment 'dev'" although Nango
    would send the connection's webhooks to its override."""
    with Receiver() as tunnel:
        url = f"{api.url}/connections/c1"
        patched = httpx.patch(
            url,
            params={"provider_config_key": "s"},
            json={"webhook_url_override": tunnel.url},
            headers=AUTH,
        )
        assert patched.json() == {"success": True}
        assert cli("config", "unset", "url").exit_code == 0
        fired = cli("fire", "--sync", "s", "-c", "c1", "--added", "1")
        assert fired.exit_code == 0, fired.stderr
        assert [json.loads(r.body)["connectionId"] for r in tunnel.requests] == ["c1"]
