"""A `nango-hooks api` (or `dev`) already running on this machine, as a scenario's API
stand-in: it shares the store, so what a step announces is what it serves; faults go
through its internal endpoint, with the token its running file announces."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nango_cli.app.api_calls import LOG_SETTLE_S
from nango_cli.app.scenarios.model import Fault
from nango_cli.errors import UsageError


@dataclass
class RemoteApi:
    url: str
    token: str | None = None

    @property
    def can_fault(self) -> bool:
        return bool(self.token)

    def settle(self) -> None:
        """Its log is written in batches: reading it through the internal endpoint
        writes the pending one first; without the token, wait one batch out."""
        from nango_cli.delivery.httpx_sender import CallFailed, call_json

        if self.token:
            with contextlib.suppress(CallFailed):
                call_json(
                    "GET",
                    f"{self.url.rstrip('/')}/_nango-hooks/requests?since=9999",
                    headers={"X-Nango-Hooks-Token": self.token},
                )
                return
        time.sleep(LOG_SETTLE_S)

    def take_caused(self, timeout: float = 30.0) -> list[Any]:
        """A running API sends what calls cause itself (with `--webhooks`), to the
        environment's URLs: nothing comes back to the scenario."""
        return []

    def apply_fault(self, fault: Fault) -> None:
        from nango_cli.delivery.httpx_sender import CallFailed, call_json

        if not self.token:
            raise UsageError(
                f"api_fault needs the internal token of the API at {self.url}",
                hint="use the `nango-hooks api` running on this machine, or leave --api out "
                "(scenario run then serves the API itself)",
            )
        body: dict[str, object] = {"times": fault.times, "clear": fault.clear}
        if fault.status is not None:
            body["status"] = fault.status
        if fault.latency is not None:
            body["latency"] = fault.latency
        if fault.short_pages is not None:
            body["short_pages"] = fault.short_pages
        try:
            status, answer = call_json(
                "POST",
                f"{self.url.rstrip('/')}/_nango-hooks/faults",
                headers={"X-Nango-Hooks-Token": self.token},
                json_body=body,
            )
        except CallFailed as exc:
            raise UsageError(f"cannot set a fault on {self.url}: {exc}") from None
        if status != 200:
            raise UsageError(f"the API at {self.url} refused the fault: {status} {answer}")


def fault_running_api(
    state_dir: Path,
    status: int | None = None,
    times: int = 1,
    latency: float | None = None,
    short_pages: int | None = None,
    clear: bool = False,
) -> tuple[str, Fault]:
    """Set a fault on the `nango-hooks api` (or `dev`) running on this machine, as
    `state_dir` (the data directory) names it (`short_pages` 0: full pages again): its
    URL and the fault. `api fault` and the MCP tool call this."""
    from nango_cli.app import running
    from nango_cli.errors import NotFoundError

    fault = Fault(
        status=status,
        latency=latency,
        short_pages=None if short_pages is None else (short_pages or False),
        times=times,
        clear=clear,
    )
    found = running.running(state_dir, "api")
    if found is None:
        raise NotFoundError(
            "no `nango-hooks api` (or `dev`) is running on this machine",
            hint="start one: nango-hooks dev",
        )
    url = str(found["url"])
    RemoteApi(url, str(found.get("token") or "") or None).apply_fault(fault)
    return url, fault
