"""Nango's own Node.js packages, installed from the npm registry for the tests.

@nangohq/node and @nangohq/types 0.71.10 (and the TypeScript compiler, to check
bodies against the types; Express, for a handler written as users write them) go into
a cache directory the first time a test asks for them and are reused after. CI installs
Node.js when it is missing (.ci/run), so these tests never skip; without Node.js they
fail and say why.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

NANGO_VERSION = "0.71.10"
PACKAGES = {
    "@nangohq/node": NANGO_VERSION,
    "@nangohq/types": NANGO_VERSION,
    "typescript": "5.9.3",
    # the web framework of the handler judged in tests/cli/test_verdicts.py
    "express": "4.21.2",
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
            _npm_install(npm, root)
    return root


# A registry that does not answer fails in well under a minute, not after npm's own
# retries (about 3.5 minutes): one retry, 30 s per fetch, 3 minutes in all.
NPM_TIMEOUT_S = 180


def _npm_install(npm: str, root: Path) -> None:
    command = [
        npm,
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--fetch-retries=1",
        "--fetch-retry-mintimeout=1000",
        "--fetch-retry-maxtimeout=5000",
        "--fetch-timeout=30000",
        *(f"{name}@{version}" for name, version in PACKAGES.items()),
    ]
    where = (
        f"the tests install Nango's packages from the npm registry into {root} "
        "(NANGO_HOOKS_TEST_NPM_DIR moves it); is the registry reachable?"
    )
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=NPM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        said = (exc.stderr or b"")[-2000:]
        text = said.decode(errors="replace") if isinstance(said, bytes) else said
        raise RuntimeError(f"npm install gave up after {NPM_TIMEOUT_S}s: {where}\n{text}") from None
    if done.returncode != 0:
        said = (done.stderr + done.stdout)[-3000:]
        raise RuntimeError(
            f"npm install failed (exit {done.returncode}): {where}\nnpm said:\n{said}"
        )


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


# Nango's stable stringify, in JavaScript: keys sorted at every level, then
# JSON.stringify (the reference the serializer is compared with).
SORT_KEYS_JS = r"""
const sortKeys = (v) => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
};
"""


class NodeServer:
    """A Node.js script serving HTTP on an ephemeral port; the script prints the port as
    its first line. Used as a webhook handler written with Nango's own SDK."""

    def __init__(self, root: Path, script: str, *args: str) -> None:
        path = root / f"server-{os.getpid()}-{abs(hash(script))}.mjs"
        # Servers of one script may start side by side (tests/cli/test_verdicts.py): the
        # file is replaced whole, so node never reads it half-written.
        partial = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
        partial.write_text(script)
        os.replace(partial, path)
        self.proc = subprocess.Popen(
            ["node", str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise AssertionError(f"node server did not start: {line}{self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{int(line)}/webhooks"

    def __enter__(self) -> NodeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait(10)


# A webhook handler written with @nangohq/node: accepts a webhook when one of the keys
# (argv: current, then previous during a rotation) verifies it, as Nango's docs advise;
# answers with what it saw.
SDK_HANDLER = r"""
import http from 'node:http';
import { Nango } from '@nangohq/node';

const clients = process.argv.slice(2).filter(Boolean)
  .map((key) => new Nango({ secretKey: 'not-used-to-verify', webhookSigningKey: key }));
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const verified = clients.some((c) => c.verifyIncomingWebhookRequest(body, req.headers));
    res.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ verified, headers: req.headers }));
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"""
