"""A scenario's `call` step (the user's backend calling Nango's API) and its `called`
expectation, against the Express handler on @nangohq/node 0.71.10
(tests/handlers/express_handler.mjs), run as a user runs `scenario run` (issue 27).

The calls follow Nango's routes (packages/server/lib/controllers/sync/postTrigger.ts,
connection/connectionId/deleteConnection.ts); what they cause follows what Nango sends
after them (the completion webhook of the run, re-announcing every record after
`emptyCache`; the auth webhook with `operation: deletion`).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.test_verdicts import EXPRESS, KEY, SECRET
from tests.conftest import run
from tests.nango_node import NodeServer

SCENARIO = """\
version: 1
name: backend calls
integration: github
sync: github-tickets
steps:
  - name: connect
    auth: creation
  - name: first sync
    sync: github-tickets
    added: {GithubTicket: 4}
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: the backend empties the cache
    call:
      method: POST
      path: /sync/trigger
      body:
        syncs: [github-tickets]
        provider_config_key: github
        connection_id: ${scenario.connection}
        opts: {emptyCache: true}
    expect:
      fetched: {all_pages: true, within: 2s}
      state: 'STATE'
      called: [{method: GET, path: /records}]
  - name: the backend pauses the sync
    call:
      method: POST
      path: /sync/pause
      body: {syncs: [github-tickets], provider_config_key: github}
  - name: the backend deletes the connection
    call:
      method: DELETE
      path: /connections/${scenario.connection}?provider_config_key=github
    expect: {status: 2xx, state: 'STATE'}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "NANGO_HOOKS_HOME": str(tmp_path / "home"),
        "NANGO_HOOKS_SIGNING_KEY": KEY,
        "NANGO_HOOKS_SECRET_KEY": SECRET,
    }


def _body(tmp_path: Path, webhook_id: str) -> dict:
    done = run("history", "show", webhook_id, "--raw", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _run(tmp_path: Path, nango_node: Path, scenario: str) -> tuple[int, dict]:
    env = _env(tmp_path)
    port = _free_port()
    with NodeServer(nango_node, EXPRESS, f"http://127.0.0.1:{port}", SECRET, KEY) as server:
        base = server.url.rsplit("/", 1)[0]
        path = tmp_path / "calls.yaml"
        path.write_text(scenario.replace("STATE", f"{base}/state/{{connection}}/{{model}}"))
        args = ["--json", "scenario", "run", str(path), "--url", server.url]
        done = run(*args, "--api-port", str(port), env=env, timeout=120)
    document = json.loads(done.stdout)
    return done.returncode, document.get("data") or document.get("error")


def _steps(data: dict) -> dict[str, dict]:
    (run,) = data["scenarios"]
    return {s["name"]: s for s in run["steps"]}


def test_calls_cause_the_webhooks_nango_sends_and_the_handler_is_judged_on_them(
    tmp_path: Path, nango_node: Path
) -> None:
    code, data = _run(tmp_path, nango_node, SCENARIO)
    assert code == 0, json.dumps(data, indent=1)
    steps = _steps(data)
    emptied = steps["the backend empties the cache"]
    assert emptied["verdict"] == "pass"
    (webhook_id,) = emptied["webhook_ids"]
    again = _body(tmp_path, webhook_id)
    # every record the first sync added, announced again as added
    assert (again["type"], again["responseResults"]) == (
        "sync",
        {"added": 4, "updated": 0, "deleted": 0},
    )
    assert "causes no webhook" in steps["the backend pauses the sync"]["note"]
    (deletion_id,) = steps["the backend deletes the connection"]["webhook_ids"]
    deletion = _body(tmp_path, deletion_id)
    assert (deletion["type"], deletion["operation"]) == ("auth", "deletion")


def test_a_call_the_handler_never_made_fails_with_what_it_made(
    tmp_path: Path, nango_node: Path
) -> None:
    scenario = SCENARIO.replace(
        "called: [{method: GET, path: /records}]",
        "called: [{method: POST, path: /sync/trigger, body_contains: github-tickets}]",
    )
    code, data = _run(tmp_path, nango_node, scenario)
    assert code == 9, json.dumps(data, indent=1)
    failed = _steps(data)["the backend empties the cache"]
    assert failed["verdict"] == "fail"
    (called,) = [o for o in failed["expectations"] if o["name"] == "called"]
    assert "not made: POST /sync/trigger with 'github-tickets'" in called["happened"]
    assert "GET /records" in called["happened"]


def test_a_call_the_api_refuses_fails_with_nangos_error(tmp_path: Path, nango_node: Path) -> None:
    scenario = SCENARIO.replace(
        "syncs: [github-tickets], provider_config_key", "syncs: [nope], provider_config_key"
    )
    code, data = _run(tmp_path, nango_node, scenario)
    assert code == 9
    refused = _steps(data)["the backend pauses the sync"]
    assert refused["verdict"] == "fail"
    assert "400 no_syncs_found" in refused["note"]


@pytest.mark.parametrize(
    ("call", "said"),
    [
        ("{method: GET, path: 'http://elsewhere/records'}", "a path on the API stand-in"),
        ("{method: GET, path: /_nango-hooks/requests}", "a path on the API stand-in"),
        ("{method: TRACE, path: /records}", "call needs a method"),
        ("{path: /records}", "call needs a method"),
    ],
)
def test_a_call_stays_on_the_api(tmp_path: Path, call: str, said: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"version: 1\nname: bad\nsteps:\n  - call: {call}\n")
    args = ("scenario", "run", str(path), "--url", "http://127.0.0.1:9/")
    done = run(*args, env={"NANGO_HOOKS_HOME": str(tmp_path / "h")})
    assert done.returncode != 0
    assert said in done.stderr and "bad.yaml:4:" in done.stderr, done.stderr


def test_a_connections_override_routes_the_scenarios_later_webhooks(
    tmp_path: Path, nango_node: Path
) -> None:
    """PATCH /connections/{id} with webhook_url_override, as the backend (or a teammate)
    sets it: Nango sends that connection's webhooks there alone, so the next step's do
    not reach the scenario's handler."""
    from tests.receiver import Receiver

    with Receiver() as elsewhere:
        scenario = f"""\
version: 1
name: override
integration: github
sync: github-tickets
steps:
  - name: connect
    auth: creation
  - name: point the connection elsewhere
    call:
      method: PATCH
      path: /connections/${{scenario.connection}}?provider_config_key=github
      body: {{webhook_url_override: "{elsewhere.url}"}}
  - name: a sync after it
    sync: github-tickets
    added: {{GithubTicket: 1}}
"""
        code, data = _run(tmp_path, nango_node, scenario)
        assert code == 0, json.dumps(data, indent=1)
        (sent_id,) = _steps(data)["a sync after it"]["webhook_ids"]
        (arrived,) = elsewhere.requests
    body = json.loads(arrived.body)
    assert (body["type"], body["model"]) == ("sync", "GithubTicket")
    assert _body(tmp_path, sent_id) == body


def test_webhooks_the_handlers_own_calls_caused_are_not_sent_as_a_calls(tmp_path: Path) -> None:
    """A handler that triggers a sync itself when it gets one: what that causes is not
    the next `call` step's to send or be judged on; the step says it left it out."""
    import httpx

    from tests.cli.test_check_cmd import handler

    port = _free_port()
    api = f"http://127.0.0.1:{port}"

    def triggers_again(headers: dict, body: bytes, seen: dict) -> int:
        data = json.loads(body)
        if data.get("type") == "sync" and not seen.get("triggered"):
            seen["triggered"] = True
            trigger = {
                "syncs": [data["syncName"]],
                "provider_config_key": data["providerConfigKey"],
                "connection_id": data["connectionId"],
            }
            httpx.post(
                f"{api}/sync/trigger", json=trigger, headers={"Authorization": f"Bearer {SECRET}"}
            )
        return 200

    scenario = """\
version: 1
name: own calls
integration: github
sync: github-tickets
steps:
  - sync: github-tickets
    added: {GithubTicket: 1}
  - name: pause
    call:
      method: POST
      path: /sync/pause
      body: {syncs: [github-tickets], provider_config_key: github}
"""
    path = tmp_path / "own.yaml"
    path.write_text(scenario)
    with handler(triggers_again) as url:
        args = ["--json", "scenario", "run", str(path), "--url", url, "--api-port", str(port)]
        done = run(*args, env=_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stdout
    note = _steps(json.loads(done.stdout)["data"])["pause"]["note"]
    assert "causes no webhook" in note
    assert "1 webhook(s) the handler's own API calls caused earlier were not sent" in note
