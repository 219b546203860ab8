"""History at scale: 100,000 stored webhooks, then `history --sync NAME --limit 50`.

Reports the query time (median of 50 runs of the store query) and the whole
command's time as a ratio to `nango-hooks --help`.

    python benchmarks/history_query.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nango_cli.delivery.history_rows import WebhookRecord, new_id  # noqa: E402
from nango_cli.storage.webhooks import HistoryFilter, Store  # noqa: E402
from nango_cli.support.paths import Directories  # noqa: E402


def fill(store: Store, rows: int) -> None:
    body = b'{"from":"nango","type":"sync","responseResults":{"added":1}}' * 5
    batch = []
    for i in range(rows):
        batch.append(
            WebhookRecord(
                id=new_id(),
                created_at=f"2026-11-{1 + i % 26:02d}T{i % 24:02d}:00:{i % 60:02d}.000Z",
                direction="sent",
                env="dev",
                type="sync",
                body=body,
                headers={"a": "b"},
                status="delivered",
                sync_name=f"sync-{i % 40}",
                model="Ticket",
                connection_id=f"conn-{i % 500}",
                provider_config_key="github",
            )
        )
        if len(batch) == 5000:
            store.record_webhooks(batch)
            batch = []
    if batch:
        store.record_webhooks(batch)


def median_ms(command: list[str], env: dict[str, str], runs: int = 15) -> float:
    subprocess.run(command, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    exe = shutil.which("nango-hooks")
    if exe is None:
        sys.exit("nango-hooks is not installed in this environment (pip install -e .)")
    with tempfile.TemporaryDirectory() as home:
        os.environ["NANGO_HOOKS_HOME"] = home
        with Store(Directories.under(Path(home)).history_db) as store:
            fill(store, args.rows)
            flt = HistoryFilter(sync_name="sync-7", limit=50)
            query = []
            for _ in range(50):
                start = time.perf_counter()
                rows = store.list(flt)
                query.append((time.perf_counter() - start) * 1000)
            assert len(rows) == 50
        env = dict(os.environ)
        help_ms = median_ms([exe, "--help"], env)
        history_ms = median_ms([exe, "history", "--sync", "sync-7", "--limit", "50"], env)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "query_ms_median": round(statistics.median(query), 3),
                "history_command_ms": round(history_ms, 1),
                "help_ms": round(help_ms, 1),
                "ratio_to_help": round(history_ms / help_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
