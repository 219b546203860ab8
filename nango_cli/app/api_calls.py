"""The calls a handler made to the API stand-in while it handled a webhook, and what a
failed one says about the handler's set-up.

A handler that answers 500 "because its own call to Nango failed" is the most common
first-hour failure, and its answer alone does not say so. The API stand-in logs
every request in the shared store; the calls made between a webhook's send and its
answer are the handler's calls for that webhook (the attribution the inspector, check
and scenarios all use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.storage.api_log import ApiRequest, api_requests
from nango_cli.storage.database import Database
from nango_cli.support import timefmt
from nango_cli.support.text import one_line

# The API writes its log in batches every 50 ms; a reader waits this long for a call
# answered just before the webhook was.
LOG_SETTLE_S = 0.15
# One machine's clock, stamped to the millisecond: a call is the webhook's when it
# arrived while the handler held the webhook, give or take the stamps' rounding.
SLACK = timedelta(milliseconds=2)


@dataclass(frozen=True)
class FailedCall:
    """A call of the handler's that the API refused, with the likely fix."""

    method: str
    path: str
    status: int
    error_code: str | None
    fix: str

    def describe(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        call = f"{self.method} {self.path}"
        return f"the handler's own call {call} was answered {self.status}{code}: {self.fix}"


def window_of(attempt: AttemptRecord) -> tuple[str, str]:
    """From the attempt's start to its answer (plus slack), as stored timestamps."""
    started = attempt.started_at
    ended = timefmt.shift(started, timedelta(milliseconds=attempt.latency_ms or 0) + SLACK)
    return timefmt.shift(started, -SLACK), ended


def calls_during(store: Database, start: str, end: str, settle: bool = True) -> list[ApiRequest]:
    """The API calls logged between `start` and `end` (stored timestamps), oldest first."""
    if settle:
        time.sleep(LOG_SETTLE_S)
    return [r for r in api_requests(store, start, limit=500) if r.created_at <= end]


def fix_for(call: ApiRequest, env: str) -> str:
    """What to change in the handler, from the API's answer."""
    code = call.error_code or ""
    if code in ("missing_auth_header", "malformed_auth_header"):
        return "it sent no secret key; give the SDK one (new Nango({ secretKey }))"
    if code == "unknown_account":
        return (
            f"its secret key is not environment {env!r}'s secret_key; set the handler's "
            "NANGO_SECRET_KEY to that key (or `nango-hooks config unset secret_key` to "
            "accept any)"
        )
    if code in ("unknown_connection", "not_found") and "connection" in call.path.lower():
        return "it asked for a connection nango-hooks does not know: use the webhook's connectionId"
    if code in ("unknown_connection", "unknown_provider_config", "missing_provider_config_key"):
        return "use the webhook's connectionId and providerConfigKey in the call"
    if code == "invalid_query_params" and _beyond_lookback(call):
        return (
            "its modified_after is older than 12 months, which Nango refuses (GET /records "
            "looks back 12 months at most): fetch from the webhook's modifiedAfter, or "
            "page from a cursor, or from the start without modified_after"
        )
    if call.status >= 500:
        return "the API failed it (an injected fault?); the handler must answer 5xx or retry"
    if call.status == 404:
        return "nango-hooks api does not serve that path; is NANGO_HOST the API's address?"
    return "the call's parameters were refused; `nango-hooks api` prints why"


def _beyond_lookback(call: ApiRequest) -> bool:
    """Whether the call's modified_after (or delta) is a time before Nango's lookback."""
    from datetime import UTC, datetime

    for name in ("modified_after", "delta"):
        for value in call.query.get(name, []):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if moment < datetime.now(UTC) - timedelta(days=365):
                return True
    return False


def failed_call(calls: list[ApiRequest], env: str) -> FailedCall | None:
    """The first refused call among `calls`, explained."""
    for call in calls:
        if call.status >= 400:
            query = urlencode(call.query, doseq=True)
            path = one_line(call.path + (f"?{query}" if query else ""), 160)
            return FailedCall(call.method, path, call.status, call.error_code, fix_for(call, env))
    return None


def cause_of(store: Database, attempt: AttemptRecord, env: str, api_url: str | None) -> str | None:
    """Why a handler most likely failed a webhook, when its own API calls say so: a call
    refused, or (answered 5xx) no call at all where one was expected."""
    if attempt.status_code is None or 200 <= attempt.status_code < 300:
        return None
    # With no API running there is no batch in flight to wait for.
    calls = calls_during(store, *window_of(attempt), settle=api_url is not None)
    found = failed_call(calls, env)
    if found is not None:
        return found.describe()
    if attempt.status_code < 500 or calls:
        return None
    if api_url is None:
        return (
            "no `nango-hooks api` is running: if the handler calls Nango, that call failed; "
            "start `nango-hooks dev` (or `nango-hooks api`) and set the handler's NANGO_HOST"
        )
    return (
        f"the handler made no call to the API at {api_url} while handling it: if it calls "
        f"Nango, is its NANGO_HOST {api_url}?"
    )
