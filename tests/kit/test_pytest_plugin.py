"""The pytest plugin, as a user gets it: pytester runs pytest in a fresh directory with
no conftest, so the fixtures come from the `pytest11` entry point alone. The worked
example of docs/testing.md runs as written, and again with its bug."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

DOC = (ROOT / "docs" / "testing.md").read_text()


def _python_block(name: str) -> str:
    """The ```python block of docs/testing.md that starts with `# NAME`."""
    for block in re.findall(r"```python\n(.*?)```", DOC, re.S):
        if block.startswith(f"# {name}\n"):
            return block
    raise AssertionError(f"docs/testing.md has no {name} block")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # A subprocess: a fresh interpreter where only the installed entry point brings the
    # plugin (no conftest, no -p).
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_the_worked_example_passes_as_written(pytester: pytest.Pytester) -> None:
    assert not list(pytester.path.glob("conftest.py"))
    pytester.makepyfile(app=_python_block("app.py"), test_app=_python_block("test_app.py"))
    result = _run(pytester)
    result.assert_outcomes(passed=4)


def test_the_worked_example_catches_ignored_deletions(pytester: pytest.Pytester) -> None:
    applied = (
        '                if record["_nango_metadata"]["deleted_at"]:\n'
        '                    mine.pop(record["id"], None)\n'
        "                else:\n"
        '                    mine[record["id"]] = record\n'
    )
    app = _python_block("app.py")
    assert applied in app
    buggy = app.replace(applied, '                mine[record["id"]] = record\n')
    pytester.makepyfile(app=buggy, test_app=_python_block("test_app.py"))
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_app.py::test_deletions_are_applied*"])


def test_the_project_comes_from_the_ini_option(pytester: pytest.Pytester) -> None:
    (pytester.path / "integrations").mkdir()
    fixture_yaml = ROOT / "tests" / "fixtures" / "nango.yaml"
    (pytester.path / "integrations" / "nango.yaml").write_text(fixture_yaml.read_text())
    pytester.makeini("[pytest]\nnango_project = integrations\n")
    pytester.makepyfile(
        test_project="""
import json

def test_a_sync_of_the_project(nango):
    first = next(iter(nango.project.syncs.values()))
    webhook = nango.sync(added=2)
    body = webhook.json()
    assert body["syncName"] == first.name and body["model"] == first.models[0]
    assert body["providerConfigKey"] == first.integration
    assert len(nango.records(first.models[0])) == 2
    assert nango.records(first.models[0])[0]["_nango_metadata"]["last_action"] == "ADDED"

def test_an_unknown_sync_needs_a_model(nango):
    import pytest
    from nango_cli.errors import UsageError
    with pytest.raises(UsageError, match="pass model="):
        nango.sync("nope")
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2)


def test_listener_send_auth_and_actions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_kit="""
import httpx

def test_code_that_forwards_webhooks(nango, nango_listener):
    webhook = nango.auth("creation", connection_id="c-9", integration="github")
    result = nango.send(webhook, nango_listener.url)
    assert result.delivered and result.attempts[0].status_code == 200
    (received,) = nango_listener.wait_for(1)
    assert received.valid and received.body == webhook.body

def test_the_api_serves_what_the_webhooks_announce(nango):
    headers = {"Authorization": f"Bearer {nango.secret_key}"}
    nango.auth("creation", connection_id="c-1", integration="github")
    done = nango.async_action({"pullRequest": 42}, connection_id="c-1", integration="github")
    url = done.json()["payload"]["statusUrl"]
    reply = httpx.get(nango.api.url + url, headers=headers)
    assert reply.status_code == 200 and reply.json() == {"pullRequest": 42}
    one = nango.api.url + "/connections/c-1?provider_config_key=github"
    connection = httpx.get(one, headers=headers)
    assert connection.status_code == 200
    nango.auth("deletion", connection_id="c-1", integration="github")
    gone = httpx.get(one, headers=headers)
    assert gone.status_code == 404
    wrong = httpx.get(nango.api.url + "/connections", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert [r.status for r in nango.api.requests()] == [200, 200, 404, 401]

def test_a_forgery_announces_nothing(nango):
    nango.sync("s", model="M", added=3, sign="bad")
    assert nango.records("M") == []
    nango.sync("s", model="M", added=3)
    assert len(nango.records("M")) == 3

def test_each_test_has_its_own_keys_and_state(nango, tmp_path):
    assert str(nango.directory).startswith(str(tmp_path))
    assert nango.signing_key != nango.secret_key
"""
    )
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=4)


def test_the_plugin_costs_nothing_until_a_test_asks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
import sys

def test_nothing_heavy_was_imported():
    assert "nango_cli.testing.plugin" in sys.modules
    assert "nango_cli.testing.kit" not in sys.modules and "aiohttp" not in sys.modules
    assert "nango_cli.testing.servers" not in sys.modules
"""
    )
    _run(pytester).assert_outcomes(passed=1)
