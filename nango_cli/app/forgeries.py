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
from typing import Literal

from nango_cli.app import api_calls
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.storage.api_log import ApiRequest
from nango_cli.storage.database import Database
from nango_cli.storage.webhooks import Store
from nango_cli.support.text import one_line

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


def calls_under(store: Database, sent: SentWebhook) -> list[ApiRequest]:
    """The API calls for the forged webhook's connection made while the handler held it
    (the caller makes sure the API's log is written first)."""
    attempt = sent.attempts[-1] if sent.attempts else None
    if attempt is None:
        return []
    connection = sent.record.connection_id
    found = api_calls.calls_during(store, *api_calls.window_of(attempt), settle=False)
    return [c for c in found if connection is not None and c.connection_id == connection]


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
        return f"no answer ({attempt.error_class}: {one_line(attempt.error or '', 80)})"
    text = attempt.response_body.decode("utf-8", "replace").strip() if body else ""
    first = one_line(text.splitlines()[0], 80) if text else ""
    shown = f"{attempt.status_code} in {attempt.latency_ms or 0:.0f} ms"
    return f"{shown}: {first}" if first else shown


def record(store: Store, verdicts: list[tuple[str, ForgeryVerdict]]) -> None:
    """Write each forgery's verdict into its history row (`history` shows it)."""
    if verdicts:
        store.set_verdicts([(webhook_id, v.kind) for webhook_id, v in verdicts])
