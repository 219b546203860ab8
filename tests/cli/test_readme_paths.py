"""README's paths (and docs/tour.md's, which README links), run as a newcomer runs
them: the same lines, in the same order, in one shell, with no variable the page does
not show. Only port numbers change (the tests bind ephemeral ports)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, check_envelope, jdata, run

README = (ROOT / "README.md").read_text()
TOUR = (ROOT / "docs" / "tour.md").read_text()


def sh_blocks(section: str, page: str = README) -> list[list[str]]:
    """The non-blank lines of each ```sh block of the page's `## SECTION`."""
    text = page.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in text.split("```sh\n")[1:]]
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def newcomer_env() -> dict[str, str]:
    """A shell as a newcomer has it: the tool on PATH, a fresh home, no Nango variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANGO")}
    env["NANGO_HOOKS_HOME"] = os.environ["NANGO_HOOKS_HOME"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


@contextmanager
def started(line: str, ready: str, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Run a README line that serves until Ctrl-C; yield the address its banner shows."""
    err = cwd / f"server-{time.monotonic_ns()}.err"
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            ["bash", "-c", line],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while ready not in err.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (line, err.read_text())
            time.sleep(0.05)
        match = re.search(rf"{re.escape(ready)} ?(http://\S+?)/?\s", err.read_text())
        assert match, err.read_text()
        yield match.group(1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                assert proc.wait(20) == 130, (line, err.read_text()[-2000:])
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in err.read_text()


def run_in_one_shell(lines: list[str], cwd: Path, env: dict[str, str]) -> list[dict[str, object]]:
    """Each line in turn in one bash (an `export` holds for the lines after it); each
    line's exit code, stdout and stderr kept apart."""
    script = []
    for i, line in enumerate(lines):
        # The braces close on a line of their own: a line's trailing comment stays one.
        script.append(f"{{\n{line}\n}} >{cwd}/out.{i} 2>{cwd}/err.{i}\necho $? >{cwd}/rc.{i}")
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, timeout=900, check=True)
    return [
        {
            "line": line,
            "rc": int((cwd / f"rc.{i}").read_text()),
            "out": (cwd / f"out.{i}").read_text(),
            "err": (cwd / f"err.{i}").read_text(),
        }
        for i, line in enumerate(lines)
    ]


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    """The listeners first (before any key exists), then every tour line in one shell.
    Before, 12 of the tour's lines failed in this order: a listener read its key only
    at start-up, and the test hid that behind variables README did not show."""
    listeners, tour = sh_blocks("Tour", TOUR)
    assert len(listeners) == 2 and all(" listen " in line for line in listeners), listeners
    assert len(tour) >= 20 and tour[0].startswith("export "), tour
    env = newcomer_env()
    # "--port 3000" becomes "--port 0": an ephemeral port (a fixed one can be taken)
    dev_line, prod_line = (re.sub(r"--port 300\d", "--port 0", line) for line in listeners)
    with (
        started(dev_line, "Listening on", tmp_path, env) as dev_url,
        started(prod_line, "Listening on", tmp_path, env) as prod_url,
    ):
        lines = [
            line.replace("http://127.0.0.1:3000", dev_url).replace(
                "http://127.0.0.1:3001", prod_url
            )
            for line in tour
        ]
        results = run_in_one_shell(lines, tmp_path, env)
    for result in results:
        assert result["rc"] == 0, result
        assert "Traceback" not in str(result["err"]), result
        if "--json" in str(result["line"]):
            document = json.loads(str(result["out"]))
            check_envelope(document)
            assert document["ok"] is True
    bad = next(r for r in results if "--sign bad" in str(r["line"]))
    assert "rejected as expected" in str(bad["out"]) + str(bad["err"])
    # The two listeners verified with distinct keys, each its own environment's.
    received = jdata(run("--json", "history", "--received", "-n", "10000").stdout)
    by_env = Counter((r["env"], r["outcome"]) for r in received)
    prod = {outcome for (env_name, outcome) in by_env if env_name == "prod"}
    assert prod == {"received ✓ signature"}, by_env
    refused = [r for r in received if "✗" in r["outcome"]]
    # --sign bad: the two models' forgeries refused (each tried as the policy says);
    # nothing else was refused, the control included
    assert refused and all(r["env"] == "dev" for r in refused), by_env
    sent = jdata(run("--json", "history", "-n", "10000").stdout)
    forged_ids = {r["id"] for r in sent if r.get("negative")}
    assert len(forged_ids) == 2, (
        len(sent),
        Counter((r["env"], r["type"], r["outcome"]) for r in sent),
    )
    assert len(received) > 2100


def in_a_terminal(line: str, typed: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run a README line on a terminal of its own (a hidden prompt reads from it), type
    `typed` at the prompt; the exit code and what the terminal showed."""
    pid, fd = os.forkpty()
    if pid == 0:  # the child: exec at once (nothing else runs after a fork)
        os.chdir(cwd)
        os.execvpe("bash", ["bash", "-c", line], env)
    shown = b""
    deadline = time.monotonic() + 30
    while b"(hidden): " not in shown:
        assert time.monotonic() < deadline, shown
        shown += os.read(fd, 1024)
    os.write(fd, typed.encode() + b"\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_develop_a_handler_runs_as_written(tmp_path: Path) -> None:
    """README's "Develop a handler": a real handler (it verifies, fetches from NANGO_HOST
    and applies the records), `dev` started as shown, then fire and check pass."""
    from tests.handlers.aiohttp_app import PyHandler

    setup, next_steps = sh_blocks("Develop a handler")
    set_url, set_key, dev = setup
    assert dev.startswith("nango-hooks dev") and "hidden prompt" in set_key
    env = newcomer_env()
    key = "whsec-readme-0123456789abcdef"
    # The handler's secret: anything, as the banner says when no secret_key is set.
    with PyHandler(key, "http://127.0.0.1:1", "anything") as handler:
        port = handler.url.split(":")[2].split("/")[0]
        url_line = set_url.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
        assert subprocess.run(["bash", "-c", url_line], cwd=tmp_path, env=env).returncode == 0
        code, screen = in_a_terminal(set_key, key, tmp_path, env)
        assert code == 0 and key not in screen, screen
        dev_line = dev.replace(
            "nango-hooks dev", "nango-hooks dev --api-port 0 --listen-port 0 --ui-port 0"
        )
        with started(dev_line, "NANGO_HOST=", tmp_path, env) as api_url:
            handler.nango_host = api_url  # set in the handler, as the banner says
            results = run_in_one_shell(next_steps, tmp_path, env)
        for result in results:
            assert result["rc"] == 0, (result["line"], result["out"], result["err"])
        fired = next(r for r in results if " fire " in str(r["line"]))
        assert "delivered" in str(fired["out"])
        check = next(r for r in results if " check" in str(r["line"]))
        assert "fetches-records" in str(check["out"])  # dev's API made it runnable
        # the api-fault check's one failed fetch, which the handler answered 500 (Nango
        # retried it) and nothing else
        assert handler.state.errors == ["GET /records answered 500"]
    # the handler fetched and applied the fired records (then check's auth-deletion
    # webhook dropped the connection's copy, as a handler should)
    connection, model, upserted, deleted = handler.state.applied[0]
    assert (connection, model, len(upserted), deleted) == ("test-connection-id", "Ticket", 3, [])
