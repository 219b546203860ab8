"""What `check` runs and how it reports: the checks of Nango's contract, their results,
the handler being checked, and the last report kept for the inspector."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nango_cli.delivery.breaker import CircuitBreaker
from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.delivery.retry import RetryPolicy
from nango_cli.delivery.transport import TLSOptions
from nango_cli.protocol import vocabulary
from nango_cli.support import timefmt
from nango_cli.support.text import one_line

CheckVerdict = Literal["pass", "warn", "fail", "not judged"]
# accept: Nango sends it, the handler must take it. reject: a forgery, the handler must
# refuse it (judged only against an accepted one). The others are advisory.
Role = Literal["accept", "reject", "advisory"]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    expectation: str
    why: str
    role: Role = "accept"
    required: bool = True
    # Only run when the environment has this setting (rotation, secret-key).
    needs: str | None = None

    def result(
        self,
        happened: str,
        verdict: CheckVerdict,
        ids: list[str],
        nango_would: str | None = None,
        cause: str | None = None,
        brief: str | None = None,
        answer: str | None = None,
        fix: str | None = None,
    ) -> CheckResult:
        return CheckResult(
            self.name,
            self.expectation,
            happened,
            verdict,
            self.required,
            self.why,
            ids,
            nango_would,
            cause=cause,
            brief=brief,
            answer=answer,
            fix=fix,
        )


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("sync", "2xx within the timeout", "the webhook Nango sends after every sync run"),
    CheckSpec("sync-error", "2xx", "sent when a sync fails (setting on by default)"),
    CheckSpec(
        "sync-checkpoints",
        "2xx for each",
        "since 2026 a sync webhook may carry `checkpoints`: absent, null, or with from: "
        "null on a first run (Nango's checkpoint syncs)",
    ),
    CheckSpec(
        "auth-creation",
        "2xx",
        "sent when a connection is created; Connect sessions add endUser",
    ),
    CheckSpec("auth-refresh-failure", "2xx", "sent when a token refresh fails"),
    CheckSpec(
        "auth-refresh-recovery",
        "2xx",
        "since Nango #7202 (2026) a successful refresh after a failed one sends `auth` "
        "`refresh` with success: true: the connection recovered",
    ),
    CheckSpec("forward", "2xx", "external API webhooks forwarded by Nango"),
    CheckSpec(
        "forward-unmatched",
        "2xx",
        "an external webhook that matches no connection is forwarded as the external API's "
        "raw body, unwrapped: no type, no connectionId",
    ),
    CheckSpec("async-action", "2xx", "sent when an async action completes"),
    CheckSpec(
        "unknown-type", "2xx (ignored)", "Nango adds webhook types without a breaking-change notice"
    ),
    CheckSpec(
        "duplicate",
        "2xx twice",
        "Nango's retries resend identical bytes; handlers must accept and dedupe",
    ),
    CheckSpec("concurrent-models", "2xx for each", "a sync with N models sends N webhooks at once"),
    CheckSpec(
        "rotation",
        "2xx",
        "after a key rotation Nango signs with either key for up to 5 minutes",
        needs="previous_signing_key",
    ),
    CheckSpec(
        "fetches-records",
        "GET /records after the webhook, to the last page",
        "a sync webhook only says records changed; the handler must fetch them with "
        "modified_after (or a cursor) and page until next_cursor is null (Nango's response "
        "budget cuts pages short of limit)",
        needs="api",
    ),
    CheckSpec(
        "api-fault",
        "every announced record fetched after Nango's retries",
        "Nango's API fails now and then: a handler whose fetch failed must answer 5xx (Nango "
        "retries) or retry itself; a 2xx loses the records",
        needs="api",
    ),
    CheckSpec(
        "large-body",
        "2xx (warn if rejected)",
        "external APIs forward bodies of a megabyte and more",
        role="advisory",
        required=False,
    ),
    # The forgeries go while the connection is live and holds records: a handler that
    # does not verify acts on them (it answers 2xx, or fetches).
    CheckSpec(
        "tampered-body", "4xx", "a body changed after signing must be refused", role="reject"
    ),
    CheckSpec(
        "wrong-key", "4xx", "a webhook signed with another key must be refused", role="reject"
    ),
    CheckSpec("missing-signature", "4xx", "an unsigned webhook must be refused", role="reject"),
    CheckSpec(
        "secret-key",
        "4xx",
        "Nango signs with the webhook signing key, never with the API secret key",
        role="reject",
        needs="secret_key",
    ),
    CheckSpec(
        "legacy-only",
        "4xx (warn if acted on)",
        "X-Nango-Signature alone is length-extendable; verify the HMAC header",
        role="reject",
        required=False,
    ),
    # Last: the API forgets a deleted connection, as Nango does.
    CheckSpec("auth-deletion", "2xx", "sent when a connection is deleted (on by default)"),
)
CHECK_NAMES = tuple(c.name for c in CHECKS)
SPECS = {c.name: c for c in CHECKS}
# Not a webhook of its own: reported when the run's failures would have opened it.
BREAKER_CHECK = "circuit-breaker"

# The usual fix when a handler fails one of the checks of what Nango sends since 2026.
FIXES = {
    "sync-checkpoints": "read checkpoints only when present and not null (checkpoints?.from "
    "may be null on a first run); nothing else in the webhook changed",
    "auth-refresh-recovery": "an auth webhook with operation refresh may have success: true "
    "(the connection works again): branch on `success` before reading `error`",
    "forward-unmatched": "a body without `type` is an external API's own webhook Nango could "
    "not match to a connection: answer 2xx (and log it) instead of reading connectionId",
}

LARGE_BODY_BYTES = 1_000_000
# What handlers commonly refuse a large body with, so the warning can name the fix.
BODY_LIMITS = (
    "Express express.json()/body-parser default to 100kb, Next.js API routes to 1mb, "
    "Fastify to 1 MiB, NestJS to 100kb; raise the limit for the webhook route"
)


@dataclass
class CheckResult:
    name: str
    expectation: str
    happened: str
    verdict: CheckVerdict
    required: bool
    why: str
    webhook_ids: list[str] = field(default_factory=list)
    nango_would: str | None = None
    reason: str | None = None  # why a check was not judged
    # What the handler's own API calls say about a failure (app.api_calls).
    cause: str | None = None
    # For the report: `happened` without the handler's answer (a table cell), the
    # answer's first line, and the usual fix.
    brief: str | None = None
    answer: str | None = None
    fix: str | None = None

    @property
    def short(self) -> str:
        return self.brief or self.happened

    @property
    def failed(self) -> bool:
        return self.required and self.verdict in ("fail", "not judged")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expectation": self.expectation,
            "happened": self.happened,
            "verdict": self.verdict,
            "required": self.required,
            "why": self.why,
            "webhook_ids": self.webhook_ids,
            "nango_would": self.nango_would,
            "reason": self.reason,
            "cause": self.cause,
            "answer": self.answer,
            "fix": self.fix,
        }


@dataclass
class CheckTarget:
    url: str
    key: str
    env: str
    sync_name: str
    integration: str
    models: list[str]
    connection_id: str
    timeout: float = vocabulary.TIMEOUT_S
    policy: str = "docs"
    tls: TLSOptions = field(default_factory=TLSOptions)
    previous_key: str | None = None
    secret_key: str | None = None
    end_user: bool = True
    # A running `nango-hooks api` the handler fetches from (the fetches-records check).
    api_url: str | None = None
    api_key: str | None = None
    # The running API's token for its internal endpoints (from its running file).
    api_token: str | None = None
    fetch_wait: float = 5.0
    # Where the handler shows its copy of a model's records (`--state`, the state_url
    # setting); with `deletion_clears`, judged after the deletion webhook too.
    state_url: str | None = None
    deletion_clears: bool = False
    state_hosts: frozenset[str] = frozenset()
    # Nango's breaker, to say whether this run's failures would have opened it.
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)


def available(target: CheckTarget) -> list[str]:
    """The checks this environment can run (rotation needs a previous key, …)."""
    settings = {
        "previous_signing_key": target.previous_key,
        "secret_key": target.secret_key,
        "api": target.api_url,
    }
    return [c.name for c in CHECKS if c.needs is None or settings.get(c.needs)]


def answer_excerpt(attempt: AttemptRecord, limit: int = 80) -> str:
    """The first line of the handler's answer, made safe to print."""
    text = attempt.response_body.decode("utf-8", "replace").strip()
    first = text.splitlines()[0] if text else ""
    return one_line(first, limit)


def describe(attempt: AttemptRecord, detail: bool = False) -> str:
    if attempt.status_code is None:
        return f"{attempt.error_class}: {attempt.error}"
    text = f"{attempt.status_code} in {attempt.latency_ms or 0:.0f} ms"
    excerpt = answer_excerpt(attempt) if detail else ""
    return f"{text}: {excerpt}" if excerpt else text


def nango_would(policy: RetryPolicy, attempt: AttemptRecord) -> str:
    """What Nango does next after this answer, under `policy`."""
    retry, reason = policy.wants_retry(attempt)
    if not retry or policy.retries == 0:
        return f"Nango ({policy.name} policy) would not retry ({reason}): the webhook is lost"
    waits = ", ".join(f"{policy.delay(i):g}s" for i in range(policy.retries))
    return (
        f"Nango ({policy.name} policy) would retry {policy.retries} time(s), after {waits}, "
        "resending identical bytes, then give up"
    )


REPORT_FILE = "check-report.json"


def save_report(directory: Path, url: str, results: list[CheckResult]) -> None:
    """Keep the last run's report (0600, in `directory`, the data directory, beside the
    history store) for `nango-hooks ui`."""
    import json

    from nango_cli.support import files

    files.ensure_state_dir(directory)
    report = {
        "url": url,
        "finished_at": timefmt.now_timestamp(),
        "checks": [r.to_dict() for r in results],
    }
    files.atomic_write(directory / REPORT_FILE, json.dumps(report).encode())
