"""A forgery's verdict, decided here for every caller: `fire --sign bad|none`, `check`'s
security checks, a scenario's forged steps, and the history row of each forgery.

A forgery is a webhook Nango never sends (a bad, missing or wrong-key signature, a body
changed after signing). What matters is whether the handler *acted* on it:

- acted on: it answered 2xx, or it called Nango's API for the forged webhook's
  connection while it handled it (it fetched first and verified after, or never);
- refused: a 4xx, and no API call under it;
- refused badly: a 5xx (or no answer), and no API call: Nango would retry it, and in
  Nango's logs it reads as the app's outage;
- not judged: no correctly signed webhook was accepted in the same run, so a refusal
  proves nothing (a handler that refuses everything refuses forgeries too).

Acting on a forgery fails whether or not the control was accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nango_cli.app import api_calls
from nango_cli.app.check_specs import describe
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.protocol import serialization
from nango_cli.storage.api_log import ApiRequest, api_requests
from nango_cli.storage.database import Database
from nango_cli.storage.webhooks import Store
from nango_cli.support.text import one_line
from nango_cli.support.timefmt import same_moment

Kind = Literal["refused", "acted-on", "refused-badly", "not-judged"]

# What a 2xx to each kind of forgery says about the handler.
_ACCEPTED = {
    "legacy-only": "accepted: the handler trusts the legacy X-Nango-Signature header",
    "secret-key": "accepted: the handler verifies with the API secret key, not the webhook "
    "signing key",
}
_ACCEPTED_DEFAULT = "accepted: the handler does not verify signatures"
VERIFY_FIX = (
    "verify X-Nango-Hmac-Sha256 (HMAC-SHA256 of the raw body with the webhook signing key) "
    "before anything else, and answer 401 when it does not match"
)
# What each verdict writes into the forgery's history row (`history`, the inspector).
HISTORY_OUTCOME = {
    "refused": "rejected as expected",
    "acted-on": "acted on a forgery!",
    "refused-badly": "refused, not with a 4xx",
    "not-judged": "not judged (no accepted control)",
}


def phrase(kind: str, code: int | None, error_class: str | None = None) -> str:
    """A forgery's verdict in one phrase, as history rows and command summaries show
    it: `rejected as expected (401)`, `not judged (no accepted control): no answer
    (refused)`."""
    text = HISTORY_OUTCOME.get(kind, kind)
    if code is not None:
        return f"{text} ({code})"
    return f"{text}: no answer" + (f" ({error_class})" if error_class else "")


@dataclass(frozen=True)
class Control:
    """Whether the run saw the handler accept a correctly signed webhook, and if not,
    why (for the not-judged reason)."""

    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class ForgeryVerdict:
    kind: Kind
    happened: str
    fix: str | None = None

    @property
    def ok(self) -> bool | None:
        """As an expectation's outcome: held, broken, or not judged (None)."""
        return {"refused": True, "refused-badly": True, "acted-on": False}.get(self.kind)

    @property
    def warns(self) -> bool:
        return self.kind == "refused-badly"


def calls_under(store: Database, sent: SentWebhook, after: int | None = None) -> list[ApiRequest]:
    """The API calls for the forged webhook's connection (the one its body names: a
    tampered body names another) made while the handler held it. `after`: where the
    API's log ended before the forgery was sent (calls logged before are an earlier
    webhook's); the caller makes sure the log is written first.

    A records read counts only when it reads what the forgery announced: from its
    modifiedAfter, or on from a page such a read gave out. So a handler still fetching
    for an earlier webhook of the connection (it answered first, fetches after) is not
    taken for one that acts on the forgery."""
    attempt = sent.attempts[-1] if sent.attempts else None
    if attempt is None:
        return []
    body = _body(sent.record.body)
    named = {sent.record.connection_id, body.get("connectionId")} - {None}
    end = api_calls.window_of(attempt)[1]
    # Without a mark, a call stamped in the millisecond the forgery went out may be the
    # last of an earlier webhook's (fire's control is answered just before): not counted.
    found = [
        c
        for c in api_requests(store, attempt.started_at, limit=500, after=after)
        if c.created_at <= end
        and c.connection_id in named
        and (after is not None or c.created_at > attempt.started_at)
    ]
    since = body.get("modifiedAfter")
    pages: set[str] = set()
    acted = []
    for call in found:
        if call.path.rstrip("/") in ("/records", "/sync/records") and isinstance(since, str):
            cursor = (call.query.get("cursor") or [None])[0]
            asked = (call.query.get("modified_after") or call.query.get("delta") or [None])[0]
            ours = (asked is not None and same_moment(str(asked), since)) or cursor in pages
            if not ours:
                continue
            if call.next_cursor:
                pages.add(call.next_cursor)
        acted.append(call)
    return acted


def _body(data: bytes) -> dict[str, Any]:
    try:
        parsed = serialization.parse_json(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def judge(
    sent: SentWebhook, calls: list[ApiRequest], control: Control, sign: str = "bad"
) -> ForgeryVerdict:
    """The verdict on one forgery (`sign`: how it was forged, for the message)."""
    attempt = sent.attempts[-1] if sent.attempts else None
    answer = _answer(sent)
    if calls:
        first = calls[0]
        return ForgeryVerdict(
            "acted-on",
            f"{answer}, but while handling it the handler called {first.method} "
            f"{one_line(first.path, 60)} for connection {one_line(first.connection_id or '', 60)!r}"
            ": it acted on a forged webhook",
            VERIFY_FIX,
        )
    code = attempt.status_code if attempt else None
    if code is not None and 200 <= code < 300:
        return ForgeryVerdict(
            "acted-on", f"{answer} ({_ACCEPTED.get(sign, _ACCEPTED_DEFAULT)})", VERIFY_FIX
        )
    if not control.accepted:
        return ForgeryVerdict("not-judged", f"{answer} (not judged: {control.reason})")
    if code is not None and 400 <= code < 500:
        return ForgeryVerdict("refused", _answer(sent, body=False))
    return ForgeryVerdict(
        "refused-badly",
        f"{answer} (refused, but not with a 4xx: Nango would retry it, and in Nango's logs "
        "it reads as your outage)",
        "answer 401 (or 403) when the signature does not match",
    )


def _answer(sent: SentWebhook, body: bool = True) -> str:
    """The handler's answer: status and time, and the first line of its body."""
    attempt = sent.attempts[-1] if sent.attempts else None
    if attempt is None:
        return "not sent"
    if attempt.status_code is None:
        return f"no answer ({describe(attempt)})"
    return describe(attempt, detail=body)


def record(store: Store, verdicts: list[tuple[SentWebhook, ForgeryVerdict]]) -> None:
    """Write each forgery's verdict into its history row (`history` shows it) and into
    the sent webhook (what a command renders)."""
    for sent, verdict in verdicts:
        sent.record.meta["verdict"] = verdict.kind
    if verdicts:
        store.set_verdicts([(sent.record.id, v.kind) for sent, v in verdicts])


def phrases(sent: list[SentWebhook]) -> dict[str, str]:
    """The verdict phrase of each forgery in `sent` (once judged), by webhook id."""
    found = {}
    for item in sent:
        kind = item.record.meta.get("verdict")
        if item.expects_rejection and isinstance(kind, str):
            last = item.attempts[-1] if item.attempts else None
            code = last.status_code if last else None
            found[item.record.id] = phrase(kind, code, last.error_class if last else None)
    return found
