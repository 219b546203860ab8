"""`fire --count N`: run load mode and render its report (progress bar on a terminal)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import typer

from nango_cli.cli import output
from nango_cli.cli.common import AppState, open_store

if TYPE_CHECKING:
    from nango_cli.app.load import LoadReport
    from nango_cli.delivery.outbox import DeliveryPlan


def parse_rate(text: str | None) -> float | None:
    from nango_cli.errors import UsageError

    if text is None:
        return None
    number = text.strip().lower().removesuffix("/s")
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if not (rate > 0 and math.isfinite(rate)):
        raise UsageError(f"invalid --rate {text!r}", hint="webhooks per second, e.g. 200 or 200/s")
    return rate


def run(
    plan: DeliveryPlan,
    state: AppState,
    key: str | None,
    count: int,
    concurrency: int,
    rate_text: str | None,
    sign_mode: str,
) -> None:
    from nango_cli.app.load import LoadRunner
    from nango_cli.errors import DeliveryError, ExitCode
    from nango_cli.support import eventloop

    rate = parse_rate(rate_text)
    if plan.skipped:
        output.note(f"not sent: {plan.skipped}; use --force to send anyway")
        if state.json:
            output.emit({"sent": False, "skipped": plan.skipped})
        return
    progress, update = _progress(count, state.json)
    with open_store() as store:
        runner = LoadRunner(plan, store, count, concurrency, rate, update)
        try:
            report = eventloop.run(runner.run(key, sign_mode))
        except KeyboardInterrupt:
            if progress is not None:
                progress.stop()
            _render(runner.report, plan, state.json)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        finally:
            if progress is not None:
                progress.stop()
    data = _data(report, plan)
    if not state.json:
        _render(report, plan, False)
    if report.failed:
        raise DeliveryError(
            f"{report.failed} of {report.count} webhook(s) not delivered",
            hint="`nango-hooks history --failed` lists them; "
            "`nango-hooks replay --failed` resends them",
            data=data,
        )
    if state.json:
        output.emit(data)


def _progress(count: int, json_mode: bool) -> tuple[Any, Any]:
    """A Rich progress bar on stderr when it is a terminal; otherwise nothing."""
    stderr = output.stdio()[1]
    if json_mode or not stderr.isatty():
        return None, lambda done, total: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=output.console(stderr),
        transient=True,
    )
    task = progress.add_task("sending", total=count)
    progress.start()

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done)

    return progress, update


def _data(report: LoadReport, plan: DeliveryPlan) -> dict[str, Any]:
    return {
        "env": plan.env,
        "targets": plan.targets,
        "policy": plan.policy.name,
        "load": report.to_dict(),
    }


def _render(report: LoadReport, plan: DeliveryPlan, json_mode: bool) -> None:
    data = report.to_dict()
    if json_mode:
        output.emit(_data(report, plan))
        return
    latency = data["latency_ms"]
    classes = ", ".join(f"{k} {v}" for k, v in data["attempts_by_class"].items()) or "none"
    state = " (interrupted)" if report.interrupted else ""
    output.out(
        f"sent {report.delivered + report.failed} of {report.count} webhooks in "
        f"{data['duration_s']:.2f} s: {data['throughput_per_s']:g} delivered/s "
        f"(concurrency {report.concurrency}{f', rate {report.rate:g}/s' if report.rate else ''})"
        f"{state}"
    )
    output.out(
        f"delivered {report.delivered}, failed {report.failed}; "
        f"attempts {report.attempts}: {classes}"
    )
    if latency["p50"] is not None:
        output.out(
            f"latency ms: p50 {latency['p50']:g}  p95 {latency['p95']:g}  "
            f"p99 {latency['p99']:g}  max {latency['max']:g}"
        )
