"""The scenario runner's own time per step, beyond the handler's.

A 200-step scenario (sync webhooks of two models, auth webhooks and duplicates, each
judged on its status) runs against a bare aiohttp receiver that answers at once. The
runner's overhead per step is the run's wall time minus the time the handler took to
answer (every attempt's latency), divided by the steps: building the bodies, signing,
writing the records the webhooks announce, recording every webhook and attempt in the
history, judging. Median of --runs. Target: <= 2 ms per step (issue 26; issue 19 set 20 ms).

    python benchmarks/scenario_overhead.py [--runs 5] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, BareReceiver, summary

sys.path.insert(0, str(ROOT))

from nango_cli.app.config_file import ConfigFile
from nango_cli.app.scenarios.files import parse
from nango_cli.app.scenarios.runner import RunTarget, ScenarioRunner
from nango_cli.app.settings import resolve
from nango_cli.storage.webhooks import Store


def scenario_text(steps: int) -> str:
    lines = ["version: 1", "name: overhead", "integration: github", "steps:"]
    kinds = [
        "  - sync: tickets\n    models: [Ticket, Comment]\n    added: {Ticket: 2, Comment: 1}",
        "  - duplicate: previous",
        "  - auth: creation",
        "  - sync: tickets\n    models: [Ticket]\n    updated: 1",
    ]
    for i in range(steps):
        lines.append(kinds[i % len(kinds)])
        lines.append("    expect: {status: 2xx}")
    return "\n".join(lines) + "\n"


def one_run(url: str, steps: int) -> tuple[float, float, int]:
    """(wall seconds, seconds the handler took, webhooks sent)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["NANGO_HOOKS_HOME"] = home
        config = ConfigFile.load(Path(home) / "config.toml")
        settings = resolve(config, None, {"signing_key": "bench-signing-key-0123"})
        scenario = parse(scenario_text(steps), "overhead.yaml")
        with Store(Path(home) / "history.sqlite3") as store:
            runner = ScenarioRunner(scenario, RunTarget(url, settings), store)
            started = time.perf_counter()
            run = runner.run()
            wall = time.perf_counter() - started
    assert not run.failed, [s.to_dict() for s in run.steps if s.failed][:1]
    sent = [s for step in run.steps for s in step.sent]
    handler = sum((s.attempts[-1].latency_ms or 0) for s in sent) / 1000
    return wall, handler, len(sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    per_step: list[float] = []
    wall_ms: list[float] = []
    sent = 0
    with BareReceiver() as receiver:
        one_run(receiver.url, 8)  # warm-up: imports, the first connection
        for _ in range(args.runs):
            wall, handler, sent = one_run(receiver.url, args.steps)
            wall_ms.append(wall * 1000 / args.steps)
            per_step.append((wall - handler) * 1000 / args.steps)
    print(
        json.dumps(
            {
                "steps": args.steps,
                "webhooks_per_run": sent,
                "wall_ms_per_step": summary(wall_ms, 2),
                "runner_overhead_ms_per_step": summary(per_step, 2),
                "target_ms_per_step": 2,
            }
        )
    )


if __name__ == "__main__":
    main()
