"""The `state` expectation: the app's copy of a connection's records (what its state
URL answers) against the live records the API holds; and where a state URL may point."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nango_cli.app.scenarios.judge import POLL_S, READS, STATE_WAIT_S, Outcome
from nango_cli.app.scenarios.model import Scenario
from nango_cli.errors import UsageError
from nango_cli.storage import connections, records
from nango_cli.storage.api_log import api_requests
from nango_cli.storage.database import Database
from nango_cli.support.text import one_line


def state(
    url: str,
    store: Database,
    connection: str,
    integration: str,
    model: str,
    get_json: Callable[[str], tuple[int | None, Any]],
    wait: float = STATE_WAIT_S,
    clock: Any = time,
    since: str | None = None,
) -> Outcome:
    """The app's copy (what `url` answers) equals the live records the API holds for the
    connection and model; polled for up to `wait` seconds (a handler may apply later).
    `since`: when the step began (to say whether the handler read anything since)."""
    deadline = clock.monotonic() + wait
    while True:
        live = (
            records.live_ids(store, connection, integration, model)
            if connections.get_connection(store, connection, integration)
            else set()
        )
        ok, happened, why = _compare(url, get_json, live)
        if ok or clock.monotonic() >= deadline:
            break
        clock.sleep(POLL_S * 2)
    if why == "missing" and since is not None and not _read_since(store, since, connection, model):
        read_none = f": it read no {model} records of this connection since the webhook"
        happened = happened.replace(": a page not read?", read_none)
    expected = f"{url} holds the {len(live)} live {model} record(s)"
    return Outcome("state", expected, happened, ok, _STATE_FIXES.get(why or ""), why=why)


_STATE_FIXES = {
    "missing": "fetch from the webhook's modifiedAfter (or your last cursor), page until "
    "next_cursor is null, and keep every record that is not deleted",
    "extra": "remove the records whose _nango_metadata.deleted_at is set (last_action "
    "DELETED) instead of keeping them",
}


def _read_since(store: Database, since: str, connection: str, model: str) -> bool:
    return any(
        c.method == "GET"
        and c.path.rstrip("/") in READS
        and c.connection_id == connection
        and c.model == model
        for c in api_requests(store, since, limit=5000)
    )


def _compare(
    url: str, get_json: Callable[[str], tuple[int | None, Any]], live: set[str]
) -> tuple[bool, str, str | None]:
    code, data = get_json(url)
    if code is None:
        return False, f"{url} did not answer: {data}", "unreachable"
    if code is not None and 300 <= code < 400:
        where = one_line(str((data or {}).get("redirect") or "?"), 120)
        return (
            False,
            f"{url} answered {code}, a redirect to {where}: a state URL is not followed; "
            "give the final URL",
            "unreachable",
        )
    if code != 200:
        return False, f"{url} answered {code}", "unreachable"
    if not isinstance(data, list):
        return (
            False,
            f"{url} must answer a JSON array of ids (or of objects with an id)",
            "unreachable",
        )
    held = {
        str(item["id"]) if isinstance(item, dict) and "id" in item else str(item) for item in data
    }
    return compare_ids(held, live)


def compare_ids(held: set[str], live: set[str]) -> tuple[bool, str, str | None]:
    """The handler's ids against the live records' (the `state` expectation, and the
    pytest kit's `assert_holds`): whether they are equal, what differs, and why."""
    if held == live:
        return True, f"holds exactly the {len(live)} live record(s)", None
    missing, extra = sorted(live - held), sorted(held - live)
    parts = []
    if missing:
        parts.append(f"misses {len(missing)} live record(s) ({_ids(missing)}): a page not read?")
    if extra:
        parts.append(
            f"still holds {len(extra)} record(s) Nango deleted or never had ({_ids(extra)}): "
            "deletions not applied?"
        )
    return False, "; ".join(parts), "missing" if missing else "extra"


def _ids(ids: list[str]) -> str:
    shown = ", ".join(one_line(i, 40) for i in ids[:5])
    return shown + (f", … {len(ids) - 5} more" if len(ids) > 5 else "")


_LOOPBACK_NAMES = ("localhost",)


def state_url_problem(template: str, allowed: frozenset[str]) -> str | None:
    """Why a `state:` URL may not be read, or None: it must be http(s) on this machine
    (loopback) unless its host is in `allowed` (`--allow-state-host`): a scenario file
    from elsewhere must not make the run reach other services."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(template)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"{template!r} is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"{template!r} is not an http(s) URL"
    if host in allowed:
        return None
    if host in _LOOPBACK_NAMES:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"the state URL's host {host!r} is not this machine: pass --allow-state-host "
        f"{host} (or set state_hosts) to read the app's state there"
    )


def check_urls(scenario: Scenario, hosts: frozenset[str]) -> None:
    """Before anything is sent: every `state:` URL reads this machine (or a host the
    user allowed)."""
    for step in scenario.steps:
        problem = step.expect.state and state_url_problem(step.expect.state, hosts)
        if problem:
            raise UsageError(
                f"{step.where(scenario.source)}step {step.name!r}: {problem}",
                hint="a state URL answers the ids your app holds; it runs beside it",
            )


def get_json(url: str) -> tuple[int | None, Any]:
    """A state URL's answer (bounded; a redirect reported, not followed), or None and
    why it could not be had."""
    from nango_cli.delivery.httpx_sender import CallFailed, get_json_bounded

    try:
        return get_json_bounded(url)
    except CallFailed as exc:
        return None, str(exc)
