"""The expectations of a step, judged: each an Outcome saying what was expected, what
happened, and whether it held (None: not judged)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nango_cli.app import api_calls
from nango_cli.app.scenarios.model import Fetched
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.storage import connections, records
from nango_cli.storage.api_log import ApiRequest, api_requests
from nango_cli.storage.database import Database
from nango_cli.support.text import one_line
from nango_cli.support.timefmt import same_moment

POLL_S = 0.05
STATE_WAIT_S = 5.0
_READS = ("/records", "/sync/records")


@dataclass
class Outcome:
    name: str  # status, within, body_contains, fetched, state
    expected: str
    happened: str
    ok: bool | None  # None: not judged
    cause: str | None = None


def status_matches(code: int | None, expected: str) -> bool:
    if code is None:
        return False
    if expected.endswith("xx"):
        return str(code)[0] == expected[0]
    return str(code) == expected


def answer_of(sent: SentWebhook) -> str:
    """The handler's final answer to one webhook, for a report."""
    attempt = sent.attempts[-1] if sent.attempts else None
    if attempt is None:
        return "not sent"
    if attempt.status_code is None:
        return f"{attempt.error_class}: {attempt.error}"
    return f"{attempt.status_code} in {attempt.latency_ms or 0:.0f} ms"


def status(expected: str, sent: list[SentWebhook]) -> Outcome:
    codes = [s.attempts[-1].status_code if s.attempts else None for s in sent]
    ok = bool(sent) and all(status_matches(code, expected) for code in codes)
    happened = "; ".join(answer_of(s) for s in sent) or "nothing sent"
    return Outcome("status", f"status {expected}", happened, ok)


def within(seconds: float, sent: list[SentWebhook]) -> Outcome:
    latencies = [(s.attempts[-1].latency_ms or 0) / 1000 for s in sent if s.attempts]
    slowest = max(latencies, default=0.0)
    answered = all(s.attempts and s.attempts[-1].status_code is not None for s in sent)
    ok = bool(latencies) and slowest <= seconds and answered
    return Outcome("within", f"answered within {seconds:g}s", f"slowest {slowest:.3f}s", ok)


def body_contains(text: str, sent: list[SentWebhook]) -> Outcome:
    answers = [
        (s.attempts[-1].response_body if s.attempts else b"").decode("utf-8", "replace")
        for s in sent
    ]
    ok = bool(answers) and all(text in a for a in answers)
    missing = next((a for a in answers if text not in a), "")
    happened = "every answer has it" if ok else f"an answer without it: {one_line(missing, 120)!r}"
    return Outcome("body_contains", f"the answer contains {text!r}", happened, ok)


# ---------------------------------------------------------------- fetched


@dataclass
class Announced:
    """What one sync webhook announced, for its fetch to be judged."""

    connection: str
    integration: str
    model: str
    modified_after: str
    changed: int
    sent_at: str


def _since(call: ApiRequest) -> str | None:
    values = call.query.get("modified_after") or call.query.get("delta") or [None]
    return str(values[0]) if values[0] is not None else None


def _cursor(call: ApiRequest) -> str | None:
    values = call.query.get("cursor") or [None]
    return str(values[0]) if values[0] is not None else None


def fetched(
    store: Database, expect: Fetched, announced: Announced, env: str, clock: Any = time
) -> Outcome:
    """Poll the API's log until the handler fetched what the webhook announced (to the
    last page with `all_pages`), or `within` seconds passed."""
    expected = (
        f"GET /records for {announced.model} with modified_after={announced.modified_after}"
        + (", every page" if expect.all_pages else "")
        + f", within {expect.within:g}s"
    )
    deadline = clock.monotonic() + expect.within
    verdict: tuple[bool, str, str | None] = (False, "", None)
    while True:
        verdict = _fetch_verdict(store, expect, announced, env)
        if verdict[0] or clock.monotonic() >= deadline:
            break
        clock.sleep(POLL_S)
    ok, happened, cause = verdict
    return Outcome("fetched", expected, happened, ok, cause)


def _fetch_verdict(
    store: Database, expect: Fetched, a: Announced, env: str
) -> tuple[bool, str, str | None]:
    log = api_requests(store, None, limit=2000)
    before = [c for c in log if c.created_at < a.sent_at]
    after = [c for c in log if c.created_at >= a.sent_at]
    reads = [c for c in after if c.method == "GET" and c.path.rstrip("/") in _READS]
    ours = [c for c in reads if c.connection_id == a.connection and c.model == a.model]
    # A cursor the API handed out before this webhook: a handler that resumes from it
    # fetches this webhook's changes too.
    known = {
        c.next_cursor
        for c in before
        if c.connection_id == a.connection and c.model == a.model and c.next_cursor
    }
    start = next(
        (
            i
            for i, c in enumerate(ours)
            if same_moment(_since(c) or "", a.modified_after) or _cursor(c) in known
        ),
        None,
    )
    if start is None:
        refused = api_calls.failed_call(reads, env)
        if refused is not None:
            code = f" {refused.error_code}" if refused.error_code else ""
            happened = f"GET /records was refused with {refused.status}{code}"
            return False, happened, refused.describe()
        return False, _no_fetch(reads, ours, a), None
    pages: list[ApiRequest] = []
    for call in ours[start:]:
        if pages and _cursor(call) != pages[-1].next_cursor:
            continue  # another fetch of the handler's, not this chain's next page
        pages.append(call)
        if call.status != 200 or not call.next_cursor:
            break
    last = pages[-1]
    got = sum(int(p.record_count or 0) for p in pages)
    if last.status != 200:
        found = api_calls.failed_call([last], env)
        return (
            False,
            f"GET /records answered {last.status} {last.error_code or ''}".rstrip(),
            found.describe() if found else None,
        )
    if last.next_cursor:
        if not expect.all_pages:
            return True, f"fetched {got} record(s) in {len(pages)} page(s) (more pages)", None
        return (
            False,
            f"stopped after {len(pages)} page(s) ({got} records) with next_cursor still set: "
            "the rest were never read",
            None,
        )
    return True, f"{got} of {a.changed} changed records in {len(pages)} page(s)", None


def _no_fetch(reads: list[ApiRequest], ours: list[ApiRequest], a: Announced) -> str:
    full = [c for c in ours if _since(c) is None and _cursor(c) is None]
    if full:
        return (
            f"fetched without modified_after: {len(full)} page(s) of every record; pass the "
            "webhook's modifiedAfter to read only what changed"
        )
    other = [_since(c) for c in ours if _since(c)]
    if other:
        return (
            f"fetched with modified_after={other[-1]}, not the webhook's modifiedAfter "
            f"({a.modified_after})"
        )
    elsewhere = [c for c in reads if c.model == a.model and c.connection_id != a.connection]
    if elsewhere:
        return (
            f"fetched connection {elsewhere[-1].connection_id!r}, not the webhook's "
            f"{a.connection!r}"
        )
    return f"no GET /records for connection {a.connection!r} and model {a.model!r}"


# ---------------------------------------------------------------- state


def state(
    url: str,
    store: Database,
    connection: str,
    integration: str,
    model: str,
    get_json: Callable[[str], tuple[int | None, Any]],
    wait: float = STATE_WAIT_S,
    clock: Any = time,
) -> Outcome:
    """The app's copy (what `url` answers) equals the live records the API holds for the
    connection and model; polled for up to `wait` seconds (a handler may apply later)."""
    deadline = clock.monotonic() + wait
    while True:
        live = (
            records.live_ids(store, connection, integration, model)
            if connections.get_connection(store, connection, integration)
            else set()
        )
        ok, happened = _compare(url, get_json, live)
        if ok or clock.monotonic() >= deadline:
            break
        clock.sleep(POLL_S * 2)
    expected = f"{url} holds the {len(live)} live {model} record(s)"
    return Outcome("state", expected, happened, ok)


def _compare(
    url: str, get_json: Callable[[str], tuple[int | None, Any]], live: set[str]
) -> tuple[bool, str]:
    code, data = get_json(url)
    if code is None:
        return False, f"{url} did not answer: {data}"
    if code != 200:
        return False, f"{url} answered {code}"
    if not isinstance(data, list):
        return False, f"{url} must answer a JSON array of ids (or of objects with an id)"
    held = {
        str(item["id"]) if isinstance(item, dict) and "id" in item else str(item) for item in data
    }
    if held == live:
        return True, f"holds exactly the {len(live)} live record(s)"
    missing, extra = sorted(live - held), sorted(held - live)
    parts = []
    if missing:
        parts.append(f"misses {len(missing)} live record(s) ({_ids(missing)}): a page not read?")
    if extra:
        parts.append(
            f"still holds {len(extra)} record(s) Nango deleted or never had ({_ids(extra)}): "
            "deletions not applied?"
        )
    return False, "; ".join(parts)


def _ids(ids: list[str]) -> str:
    shown = ", ".join(one_line(i, 40) for i in ids[:5])
    return shown + (f", … {len(ids) - 5} more" if len(ids) > 5 else "")
