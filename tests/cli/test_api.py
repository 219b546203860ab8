"""`nango-hooks api`, judged by Nango's own SDK (@nangohq/node 0.71.10), and the records
`fire` writes for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nango_cli.storage.records import connection_tag
from tests.conftest import KEY, jdata, jpayload
from tests.listening import Listening, serving
from tests.nango_node import NodeServer, run_node
from tests.receiver import Receiver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "nango-secret-key-for-the-local-api-0123456789"
ISSUES = ("--sync", "github-issues", "-m", "GithubIssue", "-c", "c1")
C1 = {"Connection-Id": "c1", "Provider-Config-Key": "github-app"}
C1_TAG = connection_tag("c1")  # generated ids carry their connection's tag
BAD_QUERY = "invalid_query_params"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES / "compiled", tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


@pytest.fixture
def api(cli, configured: Receiver, project: Path) -> Iterator[Listening]:
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    with serving("api", "Nango API on", "--json") as server:
        yield server


def _fire(cli, *args: str) -> dict:
    result = cli("--json", "fire", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return jdata(result.stdout)


def _body(fired: dict, index: int = 0) -> dict:
    return json.loads(fired["webhooks"][index]["body"])


def _page(url: str, connection: str = "c1", **query: object) -> httpx.Response:
    headers = {**AUTH, "Connection-Id": connection, "Provider-Config-Key": "github-app"}
    return httpx.get(f"{url}/records", params=query, headers=headers)


SDK_CALLS = r"""
import { Nango } from '@nangohq/node';
const [host, secretKey, modifiedAfter, actionId] = process.argv.slice(2);
const nango = new Nango({ host, secretKey });
const base = { connectionId: 'c1', providerConfigKey: 'github-app', model: 'GithubIssue' };
const out = {};
out.full = await nango.listRecords(base);
out.since = await nango.listRecords({ ...base, modifiedAfter });
out.pages = [];
let cursor = undefined;
do {
  const page = await nango.listRecords({ ...base, limit: 2, cursor });
  out.pages.push(page.records.map((r) => r.id));
  cursor = page.next_cursor;
} while (cursor);
out.deleted = await nango.listRecords({ ...base, filter: 'deleted' });
out.addedOrUpdated = await nango.listRecords({ ...base, filter: 'added,updated' });
out.connection = await nango.getConnection('github-app', 'c1');
out.action = await nango.getAsyncActionResult({ id: actionId });
const failure = async (call) => {
  try { await call(); return null; }
  catch (e) { return { status: e.response?.status, data: e.response?.data }; }
};
out.unknownConnection = await failure(() => nango.listRecords({ ...base, connectionId: 'nope' }));
out.unknownGet = await failure(() => nango.getConnection('github-app', 'nope'));
out.wrongKey = await failure(() => new Nango({ host, secretKey: 'wrong' }).listRecords(base));
console.log(JSON.stringify(out));
"""


def test_nangos_sdk_reads_what_was_fired(cli, api: Listening, nango_node: Path) -> None:
    created = _fire(
        cli, "--auth", "creation", "-i", "github-app", "-c", "c1", "--end-user-id", "u-7"
    )
    first = _fire(cli, *ISSUES, "--added", "5")
    second = _fire(
        cli,
        "--sync",
        "github-issues",
        "-m",
        "GithubIssue",
        "-c",
        "c1",
        "--added",
        "1",
        "--updated",
        "2",
        "--deleted",
        "1",
    )
    action = _fire(cli, "--async-action", "-i", "github-app", "-c", "c1", "--result", '{"pr": 42}')
    since = _body(second)["modifiedAfter"]
    action_id = _body(action)["payload"]["id"]
    out = json.loads(run_node(nango_node, SDK_CALLS, api.url, SECRET, since, action_id))

    stored = {r["id"]: r for r in jdata(cli("--json", "records", "-n", "100").stdout)}
    assert len(stored) == 6
    full_ids = [r["id"] for r in out["full"]["records"]]
    assert sorted(full_ids) == sorted(stored) and out["full"]["next_cursor"] is None
    # modifiedAfter: exactly what the second run changed (1 added, 2 updated, 1 deleted)
    changed = {r["id"]: r["_nango_metadata"]["last_action"] for r in out["since"]["records"]}
    assert sorted(changed.values()) == ["ADDED", "DELETED", "UPDATED", "UPDATED"]
    assert all(stored[i]["_nango_metadata"]["last_action"] == a for i, a in changed.items())
    # limit 2: every record once, in modification order
    pages = out["pages"]
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [i for p in pages for i in p] == full_ids
    deleted = out["deleted"]["records"]
    assert len(deleted) == 1 and deleted[0]["_nango_metadata"]["deleted_at"] is not None
    assert {r["_nango_metadata"]["last_action"] for r in out["addedOrUpdated"]["records"]} == {
        "ADDED",
        "UPDATED",
    }
    # fields come from the compiled schema
    record = out["full"]["records"][0]
    assert set(record) >= {"id", "number", "title", "state", "labels", "author", "closedAt"}
    assert record["state"] in ("open", "closed") and isinstance(record["author"]["login"], str)
    connection = out["connection"]
    assert connection["connection_id"] == "c1" and connection["provider_config_key"] == "github-app"
    assert connection["end_user"]["id"] == "u-7"
    assert connection["credentials"]["type"] == "OAUTH2"
    assert out["action"] == {"pr": 42}
    assert out["unknownConnection"]["status"] == 400
    assert out["unknownConnection"]["data"]["error"]["code"] == "unknown_connection"
    assert out["unknownGet"] == {
        "status": 404,
        "data": {"error": {"code": "not_found", "message": "Failed to find connection"}},
    }
    assert out["wrongKey"]["status"] == 401
    assert out["wrongKey"]["data"]["error"]["code"] == "unknown_account"
    assert created["webhooks"][0]["status"] == "delivered"
    assert first["webhooks"][0]["status"] == "delivered"


def test_every_request_is_printed_and_recorded(cli, api: Listening) -> None:
    _fire(cli, *ISSUES, "--added", "3")
    assert _page(api.url, model="GithubIssue", limit=2).status_code == 200
    assert _page(api.url, model="GithubIssue", limit="lots").status_code == 400
    api.proc.send_signal(2)
    code, out, err = api.finish()
    assert code == 130 and "served 2 request(s)" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["event"], line["data"]["status"]) for line in lines] == [
        ("request", 200),
        ("request", 400),
    ]
    assert lines[0]["data"]["record_count"] == 2 and lines[0]["data"]["next_cursor"]
    assert lines[1]["data"]["error_code"] == "invalid_query_params"
    # newest first, as `history` lists webhooks (before: oldest first)
    logged = jdata(cli("--json", "history", "requests").stdout)
    assert [(r["path"], r["status"], r["record_count"]) for r in logged] == [
        ("/records", 400, None),
        ("/records", 200, 2),
    ]
    assert logged[1]["query"] == {"model": ["GithubIssue"], "limit": ["2"]}


def test_paging_while_records_change_neither_repeats_nor_skips(cli, api: Listening) -> None:
    _fire(cli, *ISSUES, "--added", "6")
    first = _page(api.url, model="GithubIssue", limit=3).json()
    seen = [r["id"] for r in first["records"]]
    # meanwhile: 2 records added, and one not yet read is updated (it moves to the end)
    _fire(cli, *ISSUES, "--added", "2")
    cursor = first["next_cursor"]
    while cursor:
        page = _page(api.url, model="GithubIssue", limit=3, cursor=cursor).json()
        seen += [r["id"] for r in page["records"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 8


def test_replay_and_empty_syncs_change_nothing_initial_starts_afresh(cli, api: Listening) -> None:
    fired = _fire(cli, *ISSUES, "--added", "2")
    before = jdata(cli("--json", "records").stdout)
    assert cli("replay", fired["webhooks"][0]["id"]).exit_code == 0
    _fire(cli, *ISSUES, "--added", "0")
    assert jdata(cli("--json", "records").stdout) == before
    _fire(cli, *ISSUES, "--initial", "--added", "1")
    after = jdata(cli("--json", "records").stdout)
    # a full resync: the model's earlier records are gone, numbering starts again
    assert [r["id"] for r in after] == [f"github-issue-{C1_TAG}-1"]
    first_seen = {r["id"]: r["_nango_metadata"]["first_seen_at"] for r in before}
    assert after[0]["_nango_metadata"]["first_seen_at"] > first_seen[f"github-issue-{C1_TAG}-1"]


def test_records_from_a_file_and_the_seed(cli, api: Listening, tmp_path: Path) -> None:
    supplied = tmp_path / "records.jsonl"
    supplied.write_text('{"id": "A-1", "title": "first"}\n{"id": "A-2", "title": "second"}\n')
    fired = _fire(cli, *ISSUES, "--records", str(supplied))
    assert _body(fired)["responseResults"] == {"added": 2, "updated": 0, "deleted": 0}
    supplied.write_text('{"id": "A-2", "title": "changed"}\n{"id": "A-3", "title": "third"}\n')
    fired = _fire(cli, *ISSUES, "--records", str(supplied))
    assert _body(fired)["responseResults"] == {"added": 1, "updated": 1, "deleted": 0}
    page = _page(api.url, model="GithubIssue", modified_after=_body(fired)["modifiedAfter"]).json()
    assert [(r["id"], r["title"]) for r in page["records"]] == [
        ("A-2", "changed"),
        ("A-3", "third"),
    ]
    shown = jdata(cli("--json", "records", "show", "A-2").stdout)
    assert shown["record"] == {"id": "A-2", "title": "changed"}
    # the same seed gives the same values
    cli("records", "clear", "--yes")
    _fire(cli, "--sync", "linear-tickets", "-c", "c2", "--added", "2", "--seed", "7")
    one = [r["record"] for r in jdata(cli("--json", "records").stdout)]
    cli("records", "clear", "--yes")
    _fire(cli, "--sync", "linear-tickets", "-c", "c2", "--added", "2", "--seed", "7")
    assert [r["record"] for r in jdata(cli("--json", "records").stdout)] == one


def test_a_records_file_number_json_cannot_hold_is_served_as_null(
    cli, api: Listening, tmp_path: Path
) -> None:
    # `1e999` reads as infinity and `NaN` as NaN (Python's json takes both); the page
    # held `Infinity` and `NaN`, which no strict JSON parser (JSON.parse, the SDK's)
    # reads. Nango's API is JavaScript: JSON.stringify writes both as null.
    supplied = tmp_path / "records.jsonl"
    supplied.write_text('{"id": "A-1", "size": 1e999, "ratio": NaN, "low": -1e999}\n')
    _fire(cli, *ISSUES, "--records", str(supplied))
    page = _page(api.url, model="GithubIssue")
    assert page.status_code == 200

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    records = json.loads(page.text, parse_constant=refuse)["records"]
    assert [(r["id"], r["size"], r["ratio"], r["low"]) for r in records] == [
        ("A-1", None, None, None)
    ]


def test_connections_list_deletion_legacy_records_and_prune(cli, api: Listening) -> None:
    _fire(cli, "--auth", "creation", "-i", "github-app", "-c", "c1", "--tag", "team=a")
    _fire(cli, "--auth", "creation", "-i", "github-app", "-c", "c2")
    listed = httpx.get(f"{api.url}/connections", headers=AUTH).json()["connections"]
    assert [(c["connection_id"], c["tags"]) for c in listed] == [("c1", {"team": "a"}), ("c2", {})]
    _fire(cli, "--auth", "deletion", "-i", "github-app", "-c", "c2")
    listed = httpx.get(f"{api.url}/connections", headers=AUTH).json()["connections"]
    assert [c["connection_id"] for c in listed] == ["c1"]
    gone = httpx.get(
        f"{api.url}/connection/c2", params={"provider_config_key": "github-app"}, headers=AUTH
    )
    assert gone.status_code == 404
    _fire(cli, *ISSUES, "--added", "3")
    legacy = httpx.get(
        f"{api.url}/sync/records",
        params={"model": "GithubIssue", "order": "desc", "sort_by": "updatedAt", "limit": 2},
        headers={**AUTH, "Connection-Id": "c1", "Provider-Config-Key": "github-app"},
    ).json()
    assert len(legacy) == 2 and "_nango_metadata" not in legacy[0]
    page = _page(api.url, model="GithubIssue").json()
    cursor = page["records"][1]["_nango_metadata"]["cursor"]
    pruned = httpx.patch(
        f"{api.url}/records/prune",
        json={"model": "GithubIssue", "until_cursor": cursor},
        headers={**AUTH, "Connection-Id": "c1", "Provider-Config-Key": "github-app"},
    ).json()
    assert pruned == {"count": 2, "has_more": False}
    after = _page(api.url, model="GithubIssue").json()["records"]
    assert [set(r) for r in after[:2]] == [{"id", "_nango_metadata"}] * 2
    assert after[0]["_nango_metadata"]["pruned_at"] is not None and "title" in after[2]


@pytest.mark.parametrize(
    ("path", "query", "headers", "status", "code"),
    [
        (
            "/records",
            {},
            {"Connection-Id": "c1", "Provider-Config-Key": "github-app"},
            400,
            "invalid_query_params",
        ),
        ("/records", {"model": "M"}, {}, 400, "invalid_headers"),
        ("/records", {"model": "M", "limit": "0"}, {}, 400, BAD_QUERY),
        ("/records", {"model": "M", "limit": "10001"}, {}, 400, BAD_QUERY),
        ("/records", {"model": "M", "filter": "created"}, {}, 400, BAD_QUERY),
        (
            "/records",
            # A cursor of 1 to 1,000 characters passes Nango's query validation; the
            # headers are checked next (an undecodable one is Nango's 500, test below).
            {"model": "M", "cursor": "\u202e\x00garbage"},
            {},
            400,
            "invalid_headers",
        ),
        ("/records", {"model": "M", "cursor": "x" * 1001}, {}, 400, BAD_QUERY),
        (
            "/records",
            {"model": "M", "modified_after": "yesterday"},
            {},
            400,
            "invalid_query_params",
        ),
        (
            "/records",
            {"model": "M", "modified_after": "2020-01-01T00:00:00Z"},
            {},
            400,
            "invalid_query_params",
        ),
        ("/connections/c1", {}, {}, 400, BAD_QUERY),
        ("/connections/c1", {"provider_config_key": "nope"}, {}, 400, "unknown_provider_config"),
        ("/action/nope", {}, {}, 404, "not_found"),
        ("/nothing/here", {}, {}, 404, "not_found"),
    ],
)
def test_client_mistakes_get_nangos_error_shapes(
    cli, api: Listening, path: str, query: dict, headers: dict, status: int, code: str
) -> None:
    _fire(cli, "--auth", "creation", "-i", "github-app", "-c", "c1")
    reply = httpx.get(f"{api.url}{path}", params=query, headers={**AUTH, **headers})
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code


def test_malformed_bodies_never_get_a_5xx(cli, api: Listening) -> None:
    for method, path, content in (
        ("POST", "/sync/trigger", b"{not json"),
        ("POST", "/sync/trigger", b"[]"),
        ("POST", "/sync/trigger", b'{"syncs": "github-issues", "provider_config_key": "g"}'),
        ("PATCH", "/records/prune", b'{"model": 5}'),
        ("PATCH", "/records/prune", b"\xff\xfe"),
        ("POST", "/_nango-hooks/changes", b'{"model": "M"}'),
    ):
        reply = httpx.request(method, f"{api.url}{path}", content=content, headers=AUTH)
        assert 400 <= reply.status_code < 500, (path, content, reply.text)
        assert reply.json()["error"]["code"]


def test_fire_on_trigger(cli, configured: Receiver, project: Path) -> None:
    # the API runs elsewhere: it finds the project through the setting
    assert cli("config", "set", "project", str(project)).exit_code == 0
    with serving("api", "Nango API on", "--fire-on-trigger") as server:
        _fire(cli, "--auth", "creation", "-i", "github-app", "-c", "c1")
        reply = httpx.post(
            f"{server.url}/sync/trigger",
            json={
                "syncs": ["github-issues"],
                "provider_config_key": "github-app",
                "connection_id": "c1",
            },
            headers={"Authorization": "Bearer any"},
        )
        assert reply.json() == {"success": True}
        import time

        deadline = time.monotonic() + 10
        while len(configured.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        said = server.err_path.read_text()
    bodies = [json.loads(r.body) for r in configured.requests]
    assert len(bodies) == 3, said
    assert sorted((b["type"], b.get("model") or "") for b in bodies) == [
        ("auth", ""),
        ("sync", "GithubComment"),
        ("sync", "GithubIssue"),
    ]
    assert {b["connectionId"] for b in bodies} == {"c1"}


def test_records_cli(cli, configured: Receiver, project: Path) -> None:
    assert "no records" in cli("records").stderr
    _fire(cli, "--sync", "linear-tickets", "-c", "c9", "--added", "2", "--deleted", "1")
    table = cli("records")
    assert (
        table.exit_code == 0
        and f"linear-ticket-{connection_tag('c9')}-1" in table.stdout
        and "DELETED" in table.stdout
    )
    live = jdata(cli("--json", "records", "--live").stdout)
    assert {r["_nango_metadata"]["last_action"] for r in live} == {"ADDED"}
    assert cli("records", "show", "nope").exit_code == 6
    assert cli("records", "clear").exit_code == 2  # no terminal, no --yes
    assert jdata(cli("--json", "records", "clear", "--yes", "-c", "c9").stdout) == {"deleted": 3}


FETCHING_HANDLER = r"""
import http from 'node:http';
import { Nango } from '@nangohq/node';
const [host, pageSize, mode, secretKey] = process.argv.slice(2);
const nango = new Nango({ host, secretKey });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    res.writeHead(200).end('{}');
    const body = JSON.parse(Buffer.concat(chunks).toString());
    if (body.type !== 'sync' || mode === 'ignore') return;
    let cursor;
    try {
      do {
        const page = await nango.listRecords({
          connectionId: body.connectionId, providerConfigKey: body.providerConfigKey,
          model: body.model, limit: Number(pageSize), cursor,
          ...(mode === 'full' ? {} : { modifiedAfter: body.modifiedAfter }),
        });
        cursor = mode === 'first-page' ? null : page.next_cursor;
      } while (cursor);
    } catch (error) {
      console.error(`fetch failed: ${error.response?.status}`);
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"""


@pytest.mark.parametrize(
    ("mode", "verdict", "happened"),
    [
        ("delta", "pass", "5 of 5 changed records in 3 page(s)"),
        ("first-page", "fail", "stopped after 1 page(s) (2 records) with next_cursor still set"),
        ("full", "fail", "fetched without modified_after"),
        ("ignore", "fail", "no GET /records"),
        (
            "wrong-key",
            "fail",
            "GET /records was answered 401 unknown_account, and no later fetch read",
        ),
    ],
)
def test_check_follows_the_fetch(
    cli, api: Listening, nango_node: Path, mode: str, verdict: str, happened: str
) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    key = "wrong-key" if mode == "wrong-key" else SECRET
    with NodeServer(nango_node, FETCHING_HANDLER, api.url, "2", mode, key) as handler:
        result = cli("--json", "check", handler.url, "--only", "sync,fetches-records", "-c", "c1")
    checks = {c["name"]: c for c in jpayload(result.stdout)["checks"]}
    assert checks["fetches-records"]["verdict"] == verdict
    assert happened in checks["fetches-records"]["happened"]
    assert result.exit_code == (0 if verdict == "pass" else 9)


def test_check_without_an_api_serves_one(cli, configured: Receiver) -> None:
    """Before: with no `nango-hooks api` running, fetches-records was left out and a
    handler that never fetched passed check."""
    assert cli("config", "set-key", KEY).exit_code == 0
    result = cli("--json", "check", configured.url, "--only", "fetches-records", "--api-port", "0")
    (fetch,) = jpayload(result.stdout)["checks"]
    assert result.exit_code == 9 and fetch["verdict"] == "fail"
    assert fetch["happened"].startswith("no GET /records for connection 'nango-hooks-check-")


def test_the_standard_event_loop_serves_the_same(cli, configured: Receiver, project: Path) -> None:
    """NANGO_HOOKS_EVENT_LOOP=asyncio: the API (and listen) without uvloop."""
    _fire(cli, *ISSUES, "--added", "2")
    with serving("api", "Nango API on", env={"NANGO_HOOKS_EVENT_LOOP": "asyncio"}) as server:
        page = httpx.get(
            f"{server.url}/records",
            params={"model": "GithubIssue"},
            headers={"Authorization": "Bearer any", **C1},
        )
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "from nango_cli.support import eventloop; print(eventloop.name())",
            ],
            env={**os.environ, "NANGO_HOOKS_EVENT_LOOP": "asyncio"},
            capture_output=True,
            text=True,
        )
    assert [r["id"] for r in page.json()["records"]] == [
        f"github-issue-{C1_TAG}-1",
        f"github-issue-{C1_TAG}-2",
    ]
    assert check.stdout.strip() == "asyncio"


def test_a_port_in_use_is_exit_8_for_the_api_and_the_inspector(home: Path) -> None:
    import socket

    from tests.conftest import run

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for command, flag in (("api", "--port"), ("ui", "--port")):
            result = run(command, "--port", port)
            assert result.returncode == 8, result.stderr
            assert f"port {port} is already in use" in result.stderr and flag in result.stderr
        listen = run("listen", "--port", "0", "--ui", "--ui-port", port, "--timeout", "1")
    assert listen.returncode == 8 and "--ui-port" in listen.stderr


def test_api_fault_sets_a_fault_on_the_running_api(cli, configured: Receiver) -> None:
    """`nango-hooks api fault` while `api` runs: the next records read fails as asked,
    the one after is served; without a running API it says so (exit 6)."""
    alone = cli("api", "fault", "--status", "500")
    assert alone.exit_code == 6 and "no `nango-hooks api`" in alone.stderr
    assert cli("api", "fault").exit_code == 2
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    _fire(cli, "--sync", "s", "-c", "c1", "--added", "2")
    with serving("api", "Nango API on") as server:
        done = cli("--json", "api", "fault", "--status", "503", "--times", "1")
        assert done.exit_code == 0, done.stderr
        assert jdata(done.stdout)["fault"]["status"] == 503
        headers = {**AUTH, "Connection-Id": "c1", "Provider-Config-Key": "s"}
        first = httpx.get(f"{server.url}/records", params={"model": "S"}, headers=headers)
        second = httpx.get(f"{server.url}/records", params={"model": "S"}, headers=headers)
    assert (first.status_code, second.status_code) == (503, 200)
