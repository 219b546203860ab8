from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nango_cli.errors import UsageError
from nango_cli.protocol import bodies, edits
from nango_cli.support import timefmt

TS = "2026-11-26T12:00:00.000Z"


def test_sync_success_has_exactly_nangos_fields() -> None:
    body = bodies.sync_success(
        connection_id="c1",
        provider_config_key="github",
        sync_name="github-tickets",
        model="Ticket",
        sync_type="INITIAL",
        modified_after=TS,
        added=3,
        updated=2,
        deleted=1,
    )
    assert body == {
        "from": "nango",
        "type": "sync",
        "connectionId": "c1",
        "providerConfigKey": "github",
        "syncName": "github-tickets",
        "syncVariant": "base",
        "model": "Ticket",
        "syncType": "INITIAL",
        "success": True,
        "modifiedAfter": TS,
        "queryTimeStamp": TS,
        "responseResults": {"added": 3, "updated": 2, "deleted": 1},
    }
    assert "checkpoints" not in body  # absent when unused, never null


def test_sync_success_with_checkpoints() -> None:
    body = bodies.sync_success(
        connection_id="c",
        provider_config_key="p",
        sync_name="s",
        model="M",
        modified_after=TS,
        checkpoints={"from": None, "to": {"cursor": "abc", "page": 2}},
    )
    assert body["checkpoints"] == {"from": None, "to": {"cursor": "abc", "page": 2}}


def test_sync_error_joins_models_and_has_no_results() -> None:
    body = bodies.sync_error(
        connection_id="c",
        provider_config_key="p",
        sync_name="s",
        models=["A", "B"],
        description="boom",
        started_at=TS,
        failed_at=TS,
    )
    assert body["model"] == "A,B" and body["success"] is False
    assert body["error"] == {"type": "script_error", "description": "boom"}
    assert body["startedAt"] == TS and body["failedAt"] == TS
    for absent in ("responseResults", "modifiedAfter", "queryTimeStamp"):
        assert absent not in body


def test_auth_success_and_failure() -> None:
    ok = bodies.auth(
        connection_id="c",
        provider_config_key="gh",
        provider="github",
        environment="dev",
        operation="creation",
        tags={"end_user_id": "u1"},
        end_user={"endUserId": "u1", "tags": {}},
    )
    assert ok["type"] == "auth" and ok["success"] is True and "error" not in ok
    assert ok["endUser"] == {"endUserId": "u1", "tags": {}} and ok["tags"] == {"end_user_id": "u1"}
    failed = bodies.auth(
        connection_id="c",
        provider_config_key="gh",
        provider="github",
        environment="prod",
        operation="refresh",
        success=False,
        end_user={"endUserId": "u"},
    )
    assert failed["success"] is False and set(failed["error"]) == {"type", "description"}
    assert "endUser" not in failed  # only on a successful creation/override


def test_forward_wraps_or_passes_through() -> None:
    wrapped = bodies.forward(
        provider="github", provider_config_key="gh-prod", connection_id="c", payload={"a": 1}
    )
    assert wrapped == {
        "from": "github",
        "type": "forward",
        "providerConfigKey": "gh-prod",
        "connectionId": "c",
        "payload": {"a": 1},
    }
    assert bodies.forward(
        provider="github", provider_config_key="gh", connection_id=None, payload={"a": 1}
    ) == {"a": 1}


def test_forward_header_filter_drops_by_prefix() -> None:
    kept = bodies.forwardable_headers(
        [
            ("X-GitHub-Event", "issues"),
            ("Host", "x"),
            ("Authorization", "t"),
            ("Cookie", "c"),
            ("Content-Type", "application/json"),
            ("Content-Length", "3"),
            ("Sec-Fetch-Mode", "x"),
            ("Proxy-Authorization", "p"),
            ("User-Agent", "GitHub-Hookshot"),
            ("Server-Timing", "s"),
            ("Hosting", "also dropped: starts with host"),
            ("X-Hub-Signature-256", "sha256=1"),
            ("Connection-Id", "dropped: starts with connection"),
        ]
    )
    assert kept == {"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=1"}


def test_async_action() -> None:
    body = bodies.async_action(connection_id="c", provider_config_key="p")
    action_id = body["payload"]["id"]
    assert uuid.UUID(action_id).version == 4
    assert body["payload"]["statusUrl"] == f"/action/{action_id}"
    assert bodies.async_action(connection_id="c", provider_config_key="p", action_id="abc")[
        "payload"
    ] == {"id": "abc", "statusUrl": "/action/abc"}


def test_timestamps() -> None:
    assert timefmt.parse_timestamp("2026-11-01") == "2026-11-01T00:00:00.000Z"
    assert timefmt.parse_timestamp("2026-11-01T10:00:00.123456+02:00") == "2026-11-01T08:00:00.123Z"
    assert timefmt.parse_timestamp("2026-11-01T10:00:00Z") == "2026-11-01T10:00:00.000Z"
    with pytest.raises(UsageError):
        timefmt.parse_timestamp("yesterday")
    now = timefmt.now_timestamp()
    assert len(now) == 24 and now.endswith("Z") and now[19] == "."


@pytest.mark.parametrize(
    ("sync", "integration", "model"),
    [
        ("github-tickets", "github", "Ticket"),
        ("hubspot-companies", "hubspot", "Company"),
        ("slack_users", "slack", "User"),
        ("tickets", "tickets", "Ticket"),
    ],
)
def test_derivations(sync: str, integration: str, model: str) -> None:
    assert bodies.derive_integration(sync) == integration
    assert bodies.derive_model(sync) == model


def test_set_paths() -> None:
    body = {"responseResults": {"added": 1}, "list": [{"a": 1}]}
    for text in (
        "responseResults.added=5",
        "checkpoints=null",
        "connectionId=abc",
        'list.0.a={"x":[1]}',
        "new.deep.key=true",
        'quoted="5"',
    ):
        path, value = edits.parse_assignment(text)
        edits.apply_assignment(body, path, value)
    assert body == {
        "responseResults": {"added": 5},
        "checkpoints": None,
        "connectionId": "abc",
        "list": [{"a": {"x": [1]}}],
        "new": {"deep": {"key": True}},
        "quoted": "5",
    }


@pytest.mark.parametrize("text", ["noequals", "=1", "a..b=1", ".a=1"])
def test_bad_set_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        edits.parse_assignment(text)


def test_set_into_a_list_out_of_range() -> None:
    with pytest.raises(UsageError):
        edits.apply_assignment({"l": [1]}, ["l", "5"], 2)


@given(st.text(max_size=60))
def test_set_parser_only_raises_declared_errors(text: str) -> None:
    try:
        path, value = edits.parse_assignment(text)
        edits.apply_assignment({"a": {"b": [1, 2]}, "c": 1}, path, value)
    except UsageError:
        pass
