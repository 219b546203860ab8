from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nango_cli import nango_yaml
from nango_cli.errors import ConfigError, NotFoundError

FIXTURES = Path(__file__).parent / "fixtures"


def test_current_format() -> None:
    syncs = nango_yaml.load(FIXTURES / "nango.yaml")
    assert set(syncs) == {"github-issues", "hubspot-contacts"}  # actions are not syncs
    issues = syncs["github-issues"]
    assert issues.integration == "github-prod"
    assert issues.models == ("GithubIssue", "GithubComment")
    assert issues.sync_type == "incremental"
    assert issues.webhook_subscriptions == ("issues", "issue_comment")
    assert syncs["hubspot-contacts"].models == ("HubspotContact",)


def test_oldest_format() -> None:
    syncs = nango_yaml.load(FIXTURES / "nango-oldest.yaml")
    assert syncs["asana-tasks"].integration == "asana"
    assert syncs["asana-tasks"].models == ("AsanaTask",)
    assert syncs["slack-users"].models == ("SlackUser",)


def test_broken_file_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        nango_yaml.load(FIXTURES / "nango-broken.yaml")
    assert "nango-broken.yaml" in info.value.message and "line " in info.value.message


def test_discovery_order(tmp_path: Path) -> None:
    assert nango_yaml.find(cwd=tmp_path) is None
    (tmp_path / "nango-integrations").mkdir()
    shutil.copy(FIXTURES / "nango.yaml", tmp_path / "nango-integrations" / "nango.yaml")
    assert nango_yaml.find(cwd=tmp_path) == tmp_path / "nango-integrations" / "nango.yaml"
    shutil.copy(FIXTURES / "nango-oldest.yaml", tmp_path / "nango.yaml")
    assert nango_yaml.find(cwd=tmp_path) == tmp_path / "nango.yaml"
    with pytest.raises(NotFoundError):
        nango_yaml.find(str(tmp_path / "missing.yaml"))


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "nango.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError):
        nango_yaml.load(path)
