"""Make docs/inspector.png, the README's picture of `nango-hooks ui`.

Runs `listen --ui` in a throwaway NANGO_HOOKS_HOME, fires a few webhooks at it
(the compiled test project's syncs), opens one in headless Chromium and saves
the page. Run it again after changing the page:

    python docs/screenshot.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "screenshot-signing-key-0123456789abcdef"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NANGO_HOOKS_HOME": tmp, "NANGO_HOOKS_SIGNING_KEY": KEY}
        project = ROOT / "tests" / "fixtures" / "compiled"

        def nango_hooks(*args: str, **kwargs: object) -> object:
            return subprocess.run(
                [sys.executable, "-m", "nango_cli", *args],
                env=env,
                cwd=project,
                capture_output=True,
                check=False,
                **kwargs,
            )

        err = Path(tmp) / "listen.err"
        with err.open("wb") as err_file:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nango_cli",
                    "listen",
                    "--port",
                    "0",
                    "--ui",
                    "--ui-port",
                    "0",
                ],
                env=env,
                cwd=project,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )
        try:
            while "Listening on" not in err.read_text():
                time.sleep(0.05)
            text = err.read_text()
            listener = text.split("Listening on ")[1].split()[0]
            ui = text.split("Inspector on ")[1].split()[0]
            nango_hooks(
                "fire",
                "--sync",
                "github-issues",
                "-c",
                "acme",
                "--added",
                "GithubIssue=3",
                "--url",
                listener,
            )
            nango_hooks(
                "fire",
                "--auth",
                "creation",
                "-i",
                "github-app",
                "-c",
                "acme",
                "--end-user-id",
                "u-42",
                "--url",
                listener,
            )
            nango_hooks(
                "fire",
                "--sync",
                "linear-tickets",
                "-c",
                "acme",
                "--updated",
                "2",
                "--url",
                listener,
            )
            nango_hooks(
                "fire",
                "--sync",
                "github-issues",
                "-c",
                "acme",
                "--sign",
                "bad",
                "--retries",
                "0",
                "--url",
                listener,
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium") or "chromium",
                    args=["--headless=new", "--no-sandbox", "--disable-gpu"],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 760})
                page.goto(ui)
                page.wait_for_selector("button.row")
                page.click("button.row:has-text('GithubIssue'):has-text('✓')")
                page.wait_for_selector("#detail .tree")
                page.screenshot(path=str(ROOT / "docs" / "inspector.png"))
                browser.close()
        finally:
            proc.send_signal(2)
            proc.wait(30)


if __name__ == "__main__":
    main()
