"""What a scenario run produced: each step's verdict with its outcomes and webhooks,
and the run's (reports, JUnit and check read these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nango_cli.app.scenarios.judge import Announced, Outcome
from nango_cli.app.scenarios.model import Scenario, Step, StepVerdict
from nango_cli.delivery.outbox import SentWebhook
from nango_cli.storage.api_log import ApiRequest


@dataclass
class StepResult:
    step: Step
    verdict: StepVerdict
    outcomes: list[Outcome] = field(default_factory=list)
    sent: list[SentWebhook] = field(default_factory=list)
    note: str | None = None  # what a wait or a fault did
    cause: str | None = None  # the handler's own failed API call, when one explains it
    seconds: float = 0.0
    # What the step's sync webhooks announced (a duplicate: what its original did).
    announced: list[Announced] = field(default_factory=list)
    # Each forgery with the API calls made under it, judged again once the run is over.
    forgeries: list[tuple[SentWebhook, list[ApiRequest]]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.verdict == "fail" or (self.verdict == "not judged" and self.step.required)

    @property
    def webhook_ids(self) -> list[str]:
        return [s.record.id for s in self.sent]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.step.name,
            "kind": self.step.kind,
            "verdict": self.verdict,
            "required": self.step.required,
            "webhook_ids": self.webhook_ids,
            "expectations": [o.__dict__ for o in self.outcomes],
            "note": self.note,
            "cause": self.cause,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunResult:
    scenario: Scenario
    connection: str
    steps: list[StepResult]
    api_url: str | None
    seconds: float
    # The first webhook that would have opened Nango's breaker, and those it would then
    # have refused (with `RunTarget.breaker`).
    breaker_opened_by: str | None = None
    breaker_refusals: list[str] = field(default_factory=list)
    not_judged_reason: str | None = None
    # Correctly signed webhooks sent, and those the handler accepted.
    sent_genuine: int = 0
    accepted_genuine: int = 0

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "connection": self.connection,
            "api": self.api_url,
            "ok": not self.failed,
            "seconds": round(self.seconds, 3),
            "steps": [s.to_dict() for s in self.steps],
        }
