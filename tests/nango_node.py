"""Nango's own Node.js packages, installed from the npm registry for the tests.

@nangohq/node and @nangohq/types 0.71.10 (and the TypeScript compiler, to check
bodies against the types) go into a cache directory the first time a test asks
for them and are reused after. CI installs Node.js when it is missing
(.ci/run), so these tests never skip; without Node.js they fail and say why.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

NANGO_VERSION = "0.71.10"
PACKAGES = {
    "@nangohq/node": NANGO_VERSION,
    "@nangohq/types": NANGO_VERSION,
    "typescript": "5.9.3",
}


def cache_dir() -> Path:
    explicit = os.environ.get("NANGO_HOOKS_TEST_NPM_DIR")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nango-hooks-tests" / f"npm-nango-{NANGO_VERSION}"


def _installed(root: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = root / "node_modules" / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


def install() -> Path:
    """The directory whose node_modules holds the packages (installed once, under a lock)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError(
            "these tests run Nango's own SDK: install Node.js 20 or newer (.ci/run does)"
        )
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(root):
            (root / "package.json").write_text('{"name": "nango-hooks-tests", "private": true}')
            subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    *(f"{name}@{version}" for name, version in PACKAGES.items()),
                ],
                cwd=root,
                check=True,
                capture_output=True,
                timeout=600,
            )
    return root


def run_node(root: Path, script: str, *args: str, stdin: str = "", timeout: float = 60) -> str:
    """Run an ES module script with the packages resolvable; returns stdout."""
    path = root / f"script-{os.getpid()}-{abs(hash(script))}.mjs"
    path.write_text(script)
    proc = subprocess.run(
        ["node", str(path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
    )
    if proc.returncode != 0:
        raise AssertionError(f"node failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout
