"""Project discovery: compiled `.nango/` projects (Nango 0.71) and nango.yaml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import jdata
from tests.receiver import Receiver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COMPILED = FIXTURES / "compiled"


@pytest.fixture
def compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A compiled project in the current directory, under nango-integrations/."""
    shutil.copytree(COMPILED, tmp_path / "nango-integrations")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "nango-integrations"


def test_syncs_lists_a_compiled_project(cli, compiled: Path) -> None:
    listed = jdata(cli("--json", "syncs", "--fields").stdout)
    assert listed["project_kind"] == "compiled"
    assert listed["project"].endswith("nango-integrations/.nango/nango.json")
    assert listed["schema"].endswith("nango-integrations/.nango/schema.json")
    syncs = {s["sync"]: s for s in listed["syncs"]}
    assert set(syncs) == {"github-issues", "linear-tickets"}  # actions are not syncs
    issues = syncs["github-issues"]
    assert issues["integration"] == "github-app"
    assert issues["models"] == ["GithubIssue", "GithubComment"]
    assert issues["webhook_subscriptions"] == ["issues", "issue_comment"]
    assert syncs["linear-tickets"]["sync_type"] == "full"
    fields = {f["name"]: f for f in listed["models"]["GithubIssue"]}
    assert fields["state"]["type"] == '"open" | "closed"'
    assert fields["author"]["type"] == "GithubUser"
    assert fields["closedAt"] == {"name": "closedAt", "type": "string | null", "required": True}
    assert fields["body"]["required"] is False
    human = cli("syncs", "--fields")
    assert "github-issues" in human.stdout and '"open" | "closed"' in human.stdout
    assert "project:" in human.stderr and ".nango/nango.json" in human.stderr


def test_fire_learns_a_sync_from_the_compiled_project(
    cli, compiled: Path, configured: Receiver
) -> None:
    """Before: only nango.yaml was read, so a current project's sync was guessed from its
    name (integration 'github', model 'Issue')."""
    result = cli("fire", "--sync", "github-issues", "--added", "GithubComment=4")
    assert result.exit_code == 0, result.stderr
    assert "from " in result.stderr and ".nango/nango.json" in result.stderr
    # Nango sends a sync's per-model webhooks at once, so they may arrive in either order
    bodies = [json.loads(r.body) for r in configured.requests]
    added = {(b["providerConfigKey"], b["model"]): b["responseResults"]["added"] for b in bodies}
    assert len(bodies) == 2
    assert added == {("github-app", "GithubIssue"): 0, ("github-app", "GithubComment"): 4}


def test_compiled_files_win_over_nango_yaml(cli, compiled: Path) -> None:
    shutil.copy(FIXTURES / "nango.yaml", compiled / "nango.yaml")
    listed = jdata(cli("--json", "syncs").stdout)
    assert listed["project_kind"] == "compiled"
    assert {s["sync"] for s in listed["syncs"]} == {"github-issues", "linear-tickets"}
    # the YAML alone, when asked for
    yaml_only = jdata(cli("--json", "syncs", "--project", str(compiled / "nango.yaml")).stdout)
    assert yaml_only["project_kind"] == "nango.yaml"
    assert {s["sync"] for s in yaml_only["syncs"]} == {"github-issues", "hubspot-contacts"}


def test_the_project_setting_and_flag(cli, tmp_path: Path, configured: Receiver) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(COMPILED, elsewhere)
    assert cli("config", "set", "project", str(elsewhere)).exit_code == 0
    assert cli("fire", "--sync", "linear-tickets").exit_code == 0
    body = json.loads(configured.requests[0].body)
    assert (body["providerConfigKey"], body["model"]) == ("linear", "LinearTicket")
    # the flag names a file directly
    as_file = cli("--json", "syncs", "--project", str(elsewhere / ".nango" / "nango.json"))
    assert jdata(as_file.stdout)["project_kind"] == "compiled"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "expected a list of integrations"),
        ('[{"syncs": []}]', "has no providerConfigKey"),
        ('[{"providerConfigKey": "g", "syncs": {}}]', "syncs must be a list"),
        ('[{"providerConfigKey": "g", "syncs": [{"output": ["A"]}]}]', "a sync has no name"),
        ("[1,", "invalid JSON"),
    ],
)
def test_a_broken_compiled_project_is_a_config_error(
    cli, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / ".nango").mkdir()
    (tmp_path / ".nango" / "nango.json").write_text(content)
    result = cli("--json", "syncs", "--project", str(tmp_path))
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert message in error["message"] and "nango compile" in error["hint"]


def test_a_project_is_read_once_and_again_when_it_changes(tmp_path: Path) -> None:
    from nango_cli.app import project

    shutil.copytree(COMPILED, tmp_path / "p")
    first = project.discover(str(tmp_path / "p"))
    assert project.discover(str(tmp_path / "p")) is first  # one fire asks twice
    compiled = tmp_path / "p" / ".nango" / "nango.json"
    data = json.loads(compiled.read_text())
    data[1]["syncs"][0]["name"] = "linear-issues-renamed"
    compiled.write_text(json.dumps(data))
    again = project.discover(str(tmp_path / "p"))
    assert "linear-issues-renamed" in again.syncs and "linear-tickets" not in again.syncs
