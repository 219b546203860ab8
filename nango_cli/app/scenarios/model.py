"""What a scenario is once read: steps with their options and expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# The kinds of webhook a step can send (as `fire` knows them), then the other steps.
WEBHOOK_KINDS = ("sync", "auth", "forward", "async_action", "body")
STEP_KINDS = (*WEBHOOK_KINDS, "duplicate", "call", "api_fault", "wait")
# How a step's webhooks are signed: as Nango does (both), or a forgery to be refused.
SIGN_MODES = (
    "both",
    "hmac-only",
    "legacy-only",
    "bad",
    "none",
    "tampered",
    "secret-key",
    "previous-key",
)
# Forgeries Nango never sends: a handler must answer them 4xx.
FORGERIES = ("bad", "none", "tampered", "secret-key")
# What `sign: tampered` appends to the connectionId after signing (and `scenario record`
# recognises such a forgery by).
TAMPERED_SUFFIX = "-tampered"

StepVerdict = Literal["pass", "fail", "warn", "not judged", "skipped"]


@dataclass
class Fetched:
    """The handler fetched the step's changes: GET /records for the connection and
    model with the webhook's modifiedAfter (or a cursor it was given), to the last page
    with `all_pages`, within `within` seconds of the webhook."""

    all_pages: bool = False
    within: float = 5.0


@dataclass
class Expect:
    status: str | None = None  # "2xx", "4xx", "5xx" or an exact code, as text
    fetched: Fetched | None = None
    state: str | None = None  # a URL template: {connection}, {model}, {integration}
    within: float | None = None  # the handler's answer, in seconds
    body_contains: str | None = None
    # API calls the handler made while it handled the step: {method, path, body_contains}.
    called: list[dict[str, str]] | None = None


@dataclass
class Fault:
    status: int | None = None
    latency: float | None = None
    # True: pages of a third of `limit`; a number: at most that many records a page.
    short_pages: bool | int | None = None
    times: int = 1
    clear: bool = False


@dataclass
class Step:
    kind: str
    name: str
    # The kind's value (a sync name, an auth operation, a payload, a body, a step name
    # to duplicate, a fault, a duration) and the step's options, references unresolved.
    value: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    expect: Expect = field(default_factory=Expect)
    # Whether `expect` was written (else the defaults: 2xx, 4xx for a forgery).
    explicit_status: bool = False
    # Where the step starts in its file (for errors found while running).
    line: int | None = None
    column: int | None = None
    # A failed step fails the run (false: it only warns).
    required: bool = True
    # The check a step belongs to, when `check` runs its built-in scenario.
    group: str | None = None

    def where(self, source: str | None) -> str:
        """`FILE:LINE:COLUMN: ` of the step, for errors found while running."""
        if source and self.line is not None:
            return f"{source}:{self.line}:{self.column or 1}: "
        return f"{source}: " if source else ""

    @property
    def sign(self) -> str:
        return str(self.options.get("sign") or "both")

    @property
    def forgery(self) -> bool:
        return self.sign in FORGERIES


@dataclass
class Scenario:
    name: str
    steps: list[Step]
    integration: str | None = None
    connection: str | None = None
    sync: str | None = None
    description: str | None = None
    source: str | None = None  # the file it came from (for reports and sidecar paths)
    version: int = 1
