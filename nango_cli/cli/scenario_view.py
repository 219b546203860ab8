"""How `scenario run` shows a run: a line per step as it finishes, the expectations
that did not hold under it, and a closing line per scenario. Render only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nango_cli.cli import output
from nango_cli.cli.output import Styled
from nango_cli.support.text import one_line

if TYPE_CHECKING:
    from nango_cli.app.scenarios.results import RunResult, StepResult

_MARK = {
    "pass": ("✓", "green"),
    "fail": ("✗", "red"),
    "warn": ("!", "yellow"),
    "not judged": ("?", "yellow"),
    "skipped": ("-", "dim"),
}


def step_line(result: StepResult) -> None:
    mark, style = _MARK[result.verdict]
    outcomes = result.outcomes
    summary = one_line(result.note or (outcomes[0].happened if outcomes else ""))
    # Names come from the file: one line each, so a newline cannot print a spoofed line.
    shown = one_line(result.step.name)
    output.out("  ", Styled(mark, style), f" {shown}  ", Styled(summary, "dim"))
    for outcome in outcomes[1:] if result.verdict == "pass" else []:
        output.out("      ", Styled(f"{outcome.name}: {outcome.happened}", "dim"))
    if result.verdict == "pass":
        return
    pairs: list[tuple[str, str]] = []
    for outcome in outcomes:
        if outcome.ok is True:
            continue
        pairs.append((outcome.name, f"expected {outcome.expected}"))
        pairs.append(("", f"happened {outcome.happened}"))
    if result.cause:
        pairs.append(("cause", result.cause))
    if result.webhook_ids:
        pairs.append(("webhooks", " ".join(result.webhook_ids)))
    if pairs:
        output.fields(pairs, indent=6)


def scenario_start(name: str, source: str | None, connection: str) -> None:
    where = f" ({one_line(source)})" if source and source != name else ""
    output.out(
        Styled(f"{one_line(name)}{where}", "bold"),
        Styled(f"  connection {one_line(connection)}", "dim"),
    )


def scenario_end(run: RunResult) -> None:
    failed = [s for s in run.steps if s.failed]
    warned = [s for s in run.steps if s.verdict == "warn"]
    total = len(run.steps)
    if failed:
        names = ", ".join(one_line(s.step.name) for s in failed)
        text = f"{len(failed)} of {total} step(s) failed: {names}"
        output.out("  ", Styled(text, "red"), Styled(f"  ({run.seconds:.1f}s)", "dim"))
    else:
        extra = f", {len(warned)} warning(s)" if warned else ""
        output.out(
            "  ",
            Styled(f"{total} step(s) passed{extra}", "green"),
            Styled(f"  ({run.seconds:.1f}s)", "dim"),
        )
    if run.not_judged_reason:
        output.out("  ", Styled(f"not judged: {run.not_judged_reason}", "yellow"))
    output.out()
