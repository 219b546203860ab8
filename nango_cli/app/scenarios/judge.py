"""The expectations of a step, judged: each an Outcome saying what was expected, what
happened, and whether it held (None: not judged)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from nango_cli.app import api_calls, forgeries
from nango_cli.app.scenarios.model import Fetched, Step, StepVerdict
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.storage import records
from nango_cli.storage.api_log import ApiRequest, api_requests
from nango_cli.storage.database import Database
from nango_cli.storage.record_pages import decode_cursor, filter_actions
from nango_cli.support.text import one_line
from nango_cli.support.timefmt import normalized, same_moment

POLL_S = 0.05
STATE_WAIT_S = 5.0
READS = ("/records", "/sync/records")


@dataclass
class Outcome:
    name: str  # status, within, body_contains, fetched, state
    expected: str
    happened: str
    ok: bool | None  # None: not judged
    cause: str | None = None
    warn: bool = False  # held, but worth a warning (a forgery refused with a 5xx)
    # Why it did not hold, for a machine: "read-refused", "next-cursor", "missed",
    # "no-fetch" (fetched); "missing", "extra" (state).
    why: str | None = None


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
    """What one sync webhook announced, as the fire service wrote it (not re-read from
    the body): the model's records at positions first_seq..last_seq changed."""

    connection: str
    integration: str
    model: str
    variant: str
    modified_after: str
    changed: int
    sent_at: str
    first_seq: int
    last_seq: int

    @classmethod
    def of(cls, applied: records.Applied, sent_at: str) -> Announced:
        change = applied.change
        return cls(
            connection=change.connection_id,
            integration=change.provider_config_key,
            model=change.model,
            variant=change.variant,
            modified_after=change.modified_after,
            changed=len(applied.added) + len(applied.updated) + len(applied.deleted),
            sent_at=sent_at,
            first_seq=applied.first_seq,
            last_seq=applied.last_seq,
        )


def _since(call: ApiRequest) -> str | None:
    values = call.query.get("modified_after") or call.query.get("delta") or [None]
    return str(values[0]) if values[0] is not None else None


def _cursor(call: ApiRequest) -> str | None:
    values = call.query.get("cursor") or [None]
    return str(values[0]) if values[0] is not None else None


def fetched(
    store: Database,
    expect: Fetched,
    announced: Announced,
    env: str,
    clock: Any = time,
    wait: float | None = None,
) -> Outcome:
    """Poll the API's log until the handler has read every record the webhook announced
    (with `all_pages`; else until it started reading them), or `within` seconds (`wait`,
    when given) passed."""
    expected = (
        f"GET /records for {announced.model} from modified_after={announced.modified_after} "
        "(or a cursor)"
        + (", every page" if expect.all_pages else "")
        + f", within {expect.within:g}s"
    )
    deadline = clock.monotonic() + (expect.within if wait is None else wait)
    verdict: tuple[bool, str, str | None, str | None] = (False, "", None, None)
    while True:
        verdict = _fetch_verdict(store, expect, announced, env)
        if verdict[0] or clock.monotonic() >= deadline:
            break
        clock.sleep(POLL_S)
    ok, happened, cause, why = verdict
    return Outcome("fetched", expected, happened, ok, cause, why=why)


_ACTIONS = {"added": "ADDED", "updated": "UPDATED", "deleted": "DELETED"}
_END = 2**63


class _Span(NamedTuple):
    """The positions one records page read: after `start`, up to `end` (inclusive),
    of the actions its filter let through."""

    start: int
    end: int
    actions: frozenset[str]


def _span(call: ApiRequest, a: Announced) -> _Span | None:
    """What a successful read covers of the announced changes; None when it does not
    count (no modified_after and no cursor: every record, not the changes; a later
    modified_after than the webhook's; a list of ids)."""
    if call.query.get("ids"):
        return None
    since, cursor = _since(call), _cursor(call)
    if since is None and cursor is None:
        return None
    if since is not None and not _not_after(since, a.modified_after):
        return None
    start = decode_cursor(cursor) if cursor is not None else 0
    if start is None:
        return None
    end = decode_cursor(call.next_cursor) if call.next_cursor else _END
    # What the API served for the filter, as Nango's store applies it (`updated,deleted`
    # reads UPDATED only): a read covers those actions, all for no filter.
    given = ",".join(str(v) for v in call.query.get("filter") or []).upper()
    wanted = filter_actions(given) if given else []
    return _Span(start, end if end is not None else _END, frozenset(wanted or _ACTIONS.values()))


def _not_after(since: str, modified_after: str) -> bool:
    """`since` is the webhook's modifiedAfter or earlier (it reads what changed since)."""
    if same_moment(since, modified_after):
        return True
    first, second = normalized(since), normalized(modified_after)
    return first is not None and second is not None and first <= second


def _fetch_verdict(
    store: Database, expect: Fetched, a: Announced, env: str
) -> tuple[bool, str, str | None, str | None]:
    reads = [
        c
        for c in api_requests(store, a.sent_at, limit=5000)
        if c.method == "GET" and c.path.rstrip("/") in READS
    ]
    ours = [c for c in reads if c.connection_id == a.connection and c.model == a.model]
    changed = records.positions(
        store, a.connection, a.integration, a.model, a.variant, a.first_seq, a.last_seq
    )
    covered: set[int] = set()
    pages: list[tuple[ApiRequest, _Span]] = []
    # The next pages of a fetch without modified_after or cursor (every record) are
    # that fetch still, not a resume from a cursor.
    unfiltered: set[str] = set()
    for call in ours:
        if _since(call) is None and (_cursor(call) is None or _cursor(call) in unfiltered):
            if call.next_cursor:
                unfiltered.add(call.next_cursor)
            continue
        span = _span(call, a) if call.status == 200 else None
        if span is None:
            continue
        pages.append((call, span))
        covered.update(
            seq
            for seq, action in changed
            if span.start < seq <= span.end and action in span.actions
        )
    got = sum(int(c.record_count or 0) for c, _ in pages)
    if pages and len(covered) == len(changed):
        happened = f"{len(covered)} of {a.changed} changed records in {len(pages)} page(s)"
        return True, happened, None, None
    if pages and not expect.all_pages:
        return True, f"fetched {got} record(s) in {len(pages)} page(s) (more pages)", None, None
    refused = api_calls.failed_call([c for c in ours if c.status >= 400], env)
    if refused is not None:
        code = f" {refused.error_code}" if refused.error_code else ""
        happened = (
            f"GET /records was answered {refused.status}{code}, and no later fetch read the "
            f"{a.changed} changed records"
        )
        return False, happened, refused.describe(), "read-refused"
    if pages:
        missing = len(changed) - len(covered)
        if pages[-1][1].end != _END:  # its last read still had a next_cursor
            return (
                False,
                f"stopped after {len(pages)} page(s) ({got} records) with next_cursor still "
                f"set: {missing} changed record(s) were never read",
                "page until next_cursor is null (a page may hold fewer records than limit)",
                "next-cursor",
            )
        filtered = [span for _, span in pages if len(span.actions) < len(_ACTIONS)]
        hint = " (its filter left some out)" if filtered else ""
        happened = f"read {len(pages)} page(s) but missed {missing} changed record(s){hint}"
        return False, happened, None, "missed"
    return False, _no_fetch(reads, ours, a), None, "no-fetch"


def _no_fetch(reads: list[ApiRequest], ours: list[ApiRequest], a: Announced) -> str:
    full = [c for c in ours if _since(c) is None and _cursor(c) is None]
    if full:
        return (
            f"fetched without modified_after: {len(full)} page(s) of every record; pass the "
            "webhook's modifiedAfter (or resume from a cursor) to read only what changed"
        )
    other = [_since(c) for c in ours if _since(c)]
    if other:
        return (
            f"fetched with modified_after={other[-1]}, later than the webhook's modifiedAfter "
            f"({a.modified_after}): records changed in between were never read"
        )
    elsewhere = [c for c in reads if c.model == a.model and c.connection_id != a.connection]
    if elsewhere:
        return (
            f"fetched connection {elsewhere[-1].connection_id!r}, not the webhook's "
            f"{a.connection!r}"
        )
    return f"no GET /records for connection {a.connection!r} and model {a.model!r}"


# ---------------------------------------------------------------- a step's verdict


SWALLOWED = (
    "the handler answered 2xx although its fetch failed: Nango does not retry a 2xx, so "
    "these records are lost; answer 5xx when the fetch fails (Nango retries), or retry the "
    "fetch inside the handler"
)


def explain_swallowed(outcomes: list[Outcome], sent: list[SentWebhook]) -> None:
    """A fetch that failed under a webhook the handler acknowledged: the cause is the
    acknowledgement, not the API."""
    answered = [s.attempts[-1].status_code for s in sent if s.attempts]
    if not answered or not all(code is not None and 200 <= code < 300 for code in answered):
        return
    for outcome in outcomes:
        if outcome.name == "fetched" and outcome.why == "read-refused":
            outcome.cause = SWALLOWED


FORGERY_RANK = {"acted-on": 0, "not-judged": 1, "refused-badly": 2, "refused": 3}


def step_verdict(step: Step, outcomes: list[Outcome]) -> StepVerdict:
    if any(o.ok is False for o in outcomes):
        return "fail" if step.required else "warn"
    if any(o.ok is None for o in outcomes if o.name == "forgery"):
        return "not judged"
    return "warn" if any(o.warn for o in outcomes) else "pass"


def forgery_outcome(verdicts: list[forgeries.ForgeryVerdict]) -> Outcome:
    """A forged step's outcome: the worst of its webhooks' verdicts (app/forgeries.py)."""
    worst = min(verdicts, key=lambda v: FORGERY_RANK[v.kind])
    return Outcome(
        "forgery",
        "refused with a 4xx, no API call under it",
        "; ".join(v.happened for v in verdicts),
        worst.ok,
        worst.fix,
        warn=worst.warns,
    )
