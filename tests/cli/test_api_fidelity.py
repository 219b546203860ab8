"""GET /records validated and filtered as Nango's server does (part of issue 27).

Each case follows Nango's code at 0.71.x, named where it applies:
- packages/server/lib/controllers/records/getRecords.ts, `validationQuery`: zod 4's
  `z.string().datetime()` for modified_after/delta (UTC `Z` only, seconds optional),
  `z.coerce.number().min(1).max(10000)` for limit (JavaScript's Number()), and filter
  as a comma list of `added|updated|deleted` in lower or upper case, of any length;
- packages/records/lib/stores/postgres/postgres.ts, `getRecords`: the filter applied by
  a `switch (true)` over the upper-cased text, the first matching case winning.
Before, the stand-in answered each of these the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from nango_cli.servers.api.validation import js_number
from nango_cli.storage import records
from nango_cli.storage.record_pages import filter_actions
from nango_cli.storage.webhooks import Store
from nango_cli.support.timefmt import now_timestamp
from nango_cli.testing import RunningApi, running_api

SECRET = "sk-fidelity-0123456789abcdef"
HEADERS = {
    "Authorization": f"Bearer {SECRET}",
    "Connection-Id": "c1",
    "Provider-Config-Key": "github",
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningApi]:
    """Four records added; then two of them updated, one deleted: one ADDED, two
    UPDATED, one DELETED."""
    store = Store(tmp_path / "h.sqlite3")
    first = records.Change("c1", "github", "Issue", "base", 4, 0, 0, now_timestamp())
    records.apply_changes(store, [first], {})
    later = records.Change("c1", "github", "Issue", "base", 0, 2, 1, now_timestamp())
    records.apply_changes(store, [later], {})
    with running_api(secret_key=SECRET, store=store) as running:
        yield running
    store.close()


def _get(api: RunningApi, **params: str) -> httpx.Response:
    return httpx.get(f"{api.url}/records", params={"model": "Issue", **params}, headers=HEADERS)


def _actions(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(r["_nango_metadata"]["last_action"] for r in response.json()["records"])


def test_modified_after_is_utc_with_z_and_seconds_are_optional(api: RunningApi) -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    offset = hour_ago.astimezone().strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
    refused = _get(api, modified_after=offset)  # Python's isoformat() style
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_query_params"
    no_seconds = _get(api, modified_after=hour_ago.strftime("%Y-%m-%dT%H:%MZ"))
    assert no_seconds.status_code == 200 and len(no_seconds.json()["records"]) == 4
    assert _get(api, delta=hour_ago.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).status_code == 200


@pytest.mark.parametrize(("given", "served"), [("1e3", 4), ("0x10", 4), ("2", 2), (" 3 ", 3)])
def test_limit_is_a_coerced_number(api: RunningApi, given: str, served: int) -> None:
    page = _get(api, limit=given)
    assert page.status_code == 200, page.text
    assert len(page.json()["records"]) == served


@pytest.mark.parametrize("given", ["0", "abc", "10001", "1e5", "Infinity", "0x"])
def test_limits_nango_refuses_are_refused(api: RunningApi, given: str) -> None:
    page = _get(api, limit=given)
    assert page.status_code == 400
    assert page.json()["error"]["code"] == "invalid_query_params"


@pytest.mark.parametrize(
    ("given", "actions"),
    [
        ("added", ["ADDED"]),
        ("UPDATED", ["UPDATED", "UPDATED"]),
        ("deleted", ["DELETED"]),
        ("added,updated", ["ADDED", "UPDATED", "UPDATED"]),
        ("updated,deleted", ["UPDATED", "UPDATED"]),  # the store's switch: UPDATED only
        ("added,deleted", ["ADDED"]),
        ("added,updated,deleted", ["ADDED", "UPDATED", "UPDATED"]),
        ("added,added", ["ADDED", "DELETED", "UPDATED", "UPDATED"]),  # no case matches
    ],
)
def test_filter_is_applied_as_nangos_store_applies_it(
    api: RunningApi, given: str, actions: list[str]
) -> None:
    assert _actions(_get(api, filter=given)) == actions


@pytest.mark.parametrize("given", ["Added", "added, updated", "removed", ""])
def test_filters_nango_refuses_are_refused(api: RunningApi, given: str) -> None:
    page = _get(api, filter=given)
    assert page.status_code == 400
    assert page.json()["error"]["code"] == "invalid_query_params"


def test_the_rules_in_isolation() -> None:
    assert [js_number(t) for t in ("1e3", "0x10", "0o7", "0b11", "", " 5 ", "5x")] == [
        1000.0,
        16.0,
        7.0,
        3.0,
        0.0,
        5.0,
        None,
    ]
    assert filter_actions("UPDATED,DELETED") == ["UPDATED"]
    assert filter_actions("DELETED,ADDED") == ["ADDED"]


def test_the_fetch_judge_counts_a_filtered_read_as_nango_serves_it() -> None:
    """A handler reading with filter=updated,deleted never gets the deletions: the
    fetched judgement must not count them as read (it did, splitting the words)."""
    from nango_cli.app.scenarios.judge import Announced, _span
    from nango_cli.storage.api_log import ApiRequest

    since = "2026-12-01T10:00:00.000Z"
    announced = Announced("c1", "github", "Issue", "base", since, 3, since, 1, 3)
    query = {"filter": ["updated,deleted"], "modified_after": [since]}
    read = ApiRequest("r1", since, "GET", "/records", query, 200, "c1", "github", "Issue", 2)
    span = _span(read, announced)
    assert span is not None and span.actions == frozenset({"UPDATED"})


def test_a_played_429_is_nangos_rate_limit_answer(api: RunningApi) -> None:
    """packages/server/lib/middleware/ratelimit.middleware.ts: 429 with
    `{"error": {"code": "too_many_request", "method", "path"}}`, Retry-After in whole
    seconds and X-RateLimit-Limit/Remaining/Reset. Before: `too_many_requests`, a
    message, and no headers (a handler honouring Retry-After had nothing to read)."""
    import time

    api.fault(429)
    limited = _get(api)
    assert limited.status_code == 429
    assert limited.json() == {
        "error": {"code": "too_many_request", "method": "GET", "path": "/records"}
    }
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Limit"]) > 0
    assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert _get(api).status_code == 200  # once, as asked
