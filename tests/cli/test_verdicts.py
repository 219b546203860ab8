"""The verdicts users stake a release on, against real handlers: an aiohttp handler
(tests/handlers/aiohttp_app.py) and an Express handler on Nango's own `@nangohq/node`
(tests/handlers/express_handler.mjs), each correct, with one bug planted at a time, and
in the legitimate designs that must pass (resuming from the last record's cursor, as
Nango's docs advise; retrying the fetch inside the handler).

Each is judged by `check`, `check --state` and `scenario run`, as a user runs them (the
real command, in a process of its own). A planted bug must fail with a message that
names its cause and its fix; the correct handler and the alternative designs must pass:
a false pass and a false failure are equally wrong. The table of bug x tool x verdict in
docs/verdicts.md is the one this test computes (WRITE_VERDICTS_DOC=1 rewrites it).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import KEY, ROOT, run
from tests.handlers.aiohttp_app import Bugs, PyHandler
from tests.nango_node import NodeServer

SECRET = "sk-verdicts-0123456789abcdef"
DOC = ROOT / "docs" / "verdicts.md"
EXPRESS = (Path(__file__).resolve().parents[1] / "handlers" / "express_handler.mjs").read_text()

# Every step judged on what the handler fetched and holds; Nango's retry of a webhook the
# handler failed is sent as the environment's policy sends it (`retry: true`).
SCENARIO = """\
version: 1
name: verdicts
integration: github
sync: github-tickets
steps:
  - name: connect
    auth: creation
  - name: first sync
    sync: github-tickets
    initial: true
    added: {GithubTicket: 7}
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: changes
    sync: github-tickets
    added: {GithubTicket: 2}
    updated: {GithubTicket: 2}
    deleted: {GithubTicket: 3}
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: Nango resends it
    duplicate: changes
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: short pages
    api_fault: {short_pages: 2}
  - name: a sync in short pages
    sync: github-tickets
    added: {GithubTicket: 5}
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: the API fails once
    api_fault: {status: 500, times: 1, short_pages: false}
  - name: a sync while the API fails
    sync: github-tickets
    added: {GithubTicket: 2}
    retry: true
    expect: {fetched: {all_pages: true, within: 2s}, state: 'STATE'}
  - name: forged
    sync: github-tickets
    added: {GithubTicket: 1}
    sign: bad
  - name: disconnect
    auth: deletion
"""

BUGS = ("no-verify", "first-page", "ignore-deletions", "swallow-errors")
DESIGNS = ("correct", "resume-cursor", "retry-inside")
TOOLS = ("check", "check --state", "scenario run")
# What each bug's failure must say: its cause and its fix.
NAMED = {
    "no-verify": ("acted on a forged webhook", "verify X-Nango-Hmac-Sha256"),
    "first-page": ("next_cursor still set", "page until next_cursor is null"),
    "ignore-deletions": ("deletions not applied", "deleted_at is set"),
    "swallow-errors": (
        "no later fetch read",
        "answer 5xx when the fetch fails (Nango retries), or retry the fetch",
    ),
}
PY_BUGS = {
    "correct": Bugs(page_limit=100),
    "no-verify": Bugs(no_verify=True, page_limit=100),
    "first-page": Bugs(first_page_only=True, page_limit=100),
    "ignore-deletions": Bugs(ignore_deletions=True, page_limit=100),
    "swallow-errors": Bugs(swallow_errors=True, page_limit=100),
    "resume-cursor": Bugs(resume_from_cursor=True, page_limit=100),
    "retry-inside": Bugs(retry_inside=True, page_limit=100),
}


@dataclass
class Cell:
    handler: str  # "aiohttp" or "express"
    mode: str
    tool: str
    exit_code: int = -1
    document: dict | None = None

    @property
    def verdict(self) -> str:
        if self.exit_code == 0:
            summary = (self.document or {}).get("summary", "")
            return "pass (end state not judged)" if "not judged" in summary else "pass"
        return "fail" if self.exit_code == 9 else f"exit {self.exit_code}"

    @property
    def text(self) -> str:
        return json.dumps(self.document)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _handler(kind: str, mode: str, api: str, root: Path | None) -> Iterator[tuple[str, str]]:
    """(webhook URL, state URL template) of a running handler."""
    if kind == "aiohttp":
        with PyHandler(KEY, api, SECRET, PY_BUGS[mode]) as handler:
            base = handler.url.rsplit("/", 1)[0]
            yield handler.url, f"{base}/state/{{connection}}/{{model}}"
        return
    assert root is not None
    with NodeServer(root, EXPRESS, api, SECRET, KEY, mode) as server:
        base = server.url.rsplit("/", 1)[0]
        yield server.url, f"{base}/state/{{connection}}/{{model}}"


def _judge(cell: Cell, home: Path, root: Path | None) -> Cell:
    """One handler judged by one tool, in a process of its own, as a user runs it."""
    env = {
        "NANGO_HOOKS_HOME": str(home),
        "NANGO_HOOKS_SIGNING_KEY": KEY,
        "NANGO_HOOKS_SECRET_KEY": SECRET,
    }
    port = _free_port()
    with _handler(cell.handler, cell.mode, f"http://127.0.0.1:{port}", root) as (url, state):
        if cell.tool == "scenario run":
            path = home.parent / f"{home.name}.yaml"
            path.write_text(SCENARIO.replace("STATE", state))
            args = ["scenario", "run", str(path), "--url", url]
        else:
            args = ["check", url, "--sync", "github-tickets", "-i", "github", "-m", "GithubTicket"]
            if cell.tool == "check --state":
                args += ["--state", state]
        done = run("--json", *args, "--api-port", str(port), env=env, timeout=120)
    cell.exit_code = done.returncode
    document = json.loads(done.stdout)
    cell.document = document.get("data") or document.get("error")
    return cell


def _cells(kinds: tuple[str, ...]) -> list[Cell]:
    return [
        Cell(kind, mode, tool) for kind in kinds for mode in (*DESIGNS, *BUGS) for tool in TOOLS
    ]


def _run_all(cells: list[Cell], tmp_path: Path, root: Path | None) -> None:
    # The cells mostly wait (on the handler, on polls): run them side by side.
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [
            pool.submit(_judge, cell, tmp_path / f"home-{i}", root) for i, cell in enumerate(cells)
        ]
        for job in jobs:
            job.result()


def _expected(mode: str, tool: str) -> str:
    if mode in DESIGNS:
        return "pass (end state not judged)" if tool == "check" else "pass"
    if mode == "ignore-deletions" and tool == "check":
        # Without --state, what the handler holds is not visible: the summary says so.
        return "pass (end state not judged)"
    return "fail"


def _assert_cells(cells: list[Cell]) -> None:
    wrong = [
        f"{c.handler} {c.mode} x {c.tool}: {c.verdict}, expected {_expected(c.mode, c.tool)}"
        for c in cells
        if c.verdict != _expected(c.mode, c.tool)
    ]
    shown = [
        c.text[:2000]
        for c in cells
        if c.verdict != _expected(c.mode, c.tool) and c.verdict != "pass"
    ]
    assert not wrong, "\n".join(wrong) + "\n" + "\n".join(shown)
    for cell in cells:
        if cell.verdict == "fail":
            cause, fix = NAMED[cell.mode]
            assert cause in cell.text and fix in cell.text, (cell.mode, cell.tool, cell.text)


def _table(cells: list[Cell]) -> str:
    lines = [
        "| handler | design or bug | " + " | ".join(f"`{t}`" for t in TOOLS) + " |",
        "|---|---|" + "---|" * len(TOOLS),
    ]
    for kind in dict.fromkeys(c.handler for c in cells):
        for mode in (*DESIGNS, *BUGS):
            row = {c.tool: c.verdict for c in cells if c.handler == kind and c.mode == mode}
            lines.append(f"| {kind} | {mode} | " + " | ".join(row[t] for t in TOOLS) + " |")
    return "\n".join(lines)


def _check_doc(marker: str, table: str) -> None:
    """docs/verdicts.md holds the table between `<!-- marker -->` lines."""
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = DOC.read_text()
    before, rest = text.split(begin, 1)
    _, after = rest.split(end, 1)
    wanted = f"{before}{begin}\n{table}\n{end}{after}"
    if os.environ.get("WRITE_VERDICTS_DOC") == "1":
        DOC.write_text(wanted)
        return
    assert text == wanted, f"docs/verdicts.md is not the table the test computed:\n{table}"


def test_the_aiohttp_handler_bug_by_bug(tmp_path: Path) -> None:
    cells = _cells(("aiohttp",))
    _run_all(cells, tmp_path, None)
    _assert_cells(cells)
    _check_doc("aiohttp", _table(cells))


def test_the_express_handler_on_nangos_sdk_bug_by_bug(tmp_path: Path, nango_node: Path) -> None:
    cells = _cells(("express",))
    _run_all(cells, tmp_path, nango_node)
    _assert_cells(cells)
    _check_doc("express", _table(cells))
