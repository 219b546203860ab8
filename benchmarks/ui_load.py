"""The inspector with 10,000 webhooks stored: how long until the page is usable.

Headless Chromium (Debian's `chromium`, through Playwright) opens `nango-hooks ui`
over a store of 10,000 webhooks and times, from the start of navigation, the
moment the first page of rows (100) is in the page and can be clicked; and how
long a webhook written by another process takes to appear in the open page
(the live feed polls the store every 250 ms). Medians of --runs runs.
Target (issue 14): usable within 300 ms; a new webhook visible within 1 s.

    python benchmarks/ui_load.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, environment, start_server, summary

sys.path.insert(0, str(ROOT))

from nango_cli.delivery.history_rows import WebhookRecord, new_id
from nango_cli.storage.webhooks import Store

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def seed(home: Path, count: int) -> None:
    (home / "data").mkdir(parents=True)
    with Store(home / "data" / "history.sqlite3") as store:
        body = json.dumps(
            {
                "from": "nango",
                "type": "sync",
                "syncName": "github-issues",
                "model": "GithubIssue",
                "connectionId": "conn-1",
                "providerConfigKey": "github",
                "success": True,
                "modifiedAfter": "2026-11-01T00:00:00.000Z",
                "responseResults": {"added": 3, "updated": 1, "deleted": 0},
            }
        ).encode()
        store.record_webhooks(
            [
                WebhookRecord(
                    id=new_id(),
                    created_at=f"2026-11-{1 + i // 3600 % 28:02d}T00:{i // 60 % 60:02d}:"
                    f"{i % 60:02d}.000Z",
                    direction="sent",
                    env="dev",
                    type="sync",
                    sync_name="github-issues",
                    model="GithubIssue",
                    connection_id=f"conn-{i % 50}",
                    provider_config_key="github",
                    targets=["http://127.0.0.1:9/"],
                    headers={"content-type": "application/json"},
                    body=body,
                    status="delivered",
                )
                for i in range(count)
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    usable, live = [], []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        seed(home, 10_000)
        env = {**environment(), "NANGO_HOOKS_HOME": str(home)}
        proc, url = start_server(["ui", "--port", "0"], "Inspector on", home, env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
                for _ in range(args.runs):
                    page = browser.new_page()
                    page.goto(url, wait_until="commit")
                    page.wait_for_function(
                        "() => document.querySelectorAll('button.row').length >= 100"
                    )
                    usable.append(page.evaluate("performance.now()"))
                    page.wait_for_selector("#live:text('live')")
                    with Store(home / "data" / "history.sqlite3") as store:
                        written = time.perf_counter()
                        webhook = WebhookRecord(
                            id=new_id(),
                            created_at="2026-12-01T00:00:00.000Z",
                            direction="sent",
                            env="dev",
                            type="auth",
                            sync_name=None,
                            model=None,
                            connection_id="new-one",
                            provider_config_key="github",
                            targets=[],
                            headers={},
                            body=b'{"type":"auth"}',
                            status="delivered",
                        )
                        store.record_webhooks([webhook])
                    page.wait_for_selector(f"button.row[data-id='{webhook.id}']")
                    live.append((time.perf_counter() - written) * 1000)
                    page.close()
                browser.close()
        finally:
            proc.send_signal(2)
            proc.wait(30)
    print(
        json.dumps(
            {
                "webhooks_stored": 10_000,
                "usable_ms": summary(usable, 0),
                "new_webhook_visible_ms": summary(live, 0),
            }
        )
    )


if __name__ == "__main__":
    main()
