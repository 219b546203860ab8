"""Fault-tolerance: processes killed with SIGKILL, and many processes sharing one store."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from tests.conftest import KEY, ROOT, jdata, run
from tests.receiver import Behaviour, Receiver

KILLS_PER_POINT = 4

SYNC = ("--sync", "s", "-i", "s", "-m", "S")


def _spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "nango_cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _count(db_path: Path, sql: str) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(db_path)
    try:
        return int(db.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        db.close()


def _wait_for(predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_sigkill_at_every_point_loses_nothing(home: Path) -> None:
    """Kill `fire` right after the outbox write, mid-retry, and after the 2xx before the
    final write, several times each; then every webhook is stored, the unfinished ones
    are marked interrupted, and replaying them delivers the original bytes."""
    db_path = home / "data" / "history.sqlite3"
    env = {"NANGO_HOOKS_SIGNING_KEY": KEY}
    spawned = 0
    with Receiver() as slow, Receiver() as failing, Receiver() as answering:
        slow.default = Behaviour(delay=30)
        failing.default = Behaviour(status=503)
        for point in ("after-outbox", "mid-retry", "after-2xx"):
            for _ in range(KILLS_PER_POINT):
                before = _count(db_path, "SELECT count(*) FROM webhooks")
                attempts_before = _count(db_path, "SELECT count(*) FROM attempts")
                if point == "after-outbox":
                    proc = _spawn("fire", *SYNC, "--url", slow.url, env=env)
                    _wait_for(lambda b=before: _count(db_path, "SELECT count(*) FROM webhooks") > b)
                elif point == "mid-retry":
                    proc = _spawn(
                        "fire",
                        *SYNC,
                        "--url",
                        failing.url,
                        "--retry-policy",
                        "server",
                        env=env,
                    )
                    _wait_for(
                        lambda a=attempts_before: (
                            _count(db_path, "SELECT count(*) FROM attempts") > a
                        )
                    )
                else:
                    # The store is locked while the 200 is answered: `fire`'s final write
                    # waits for it, so the kill lands between the 2xx and that write every
                    # time (before: a busy machine's `fire` sometimes finished first).
                    holder: dict[str, subprocess.Popen[bytes]] = {}
                    lock = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)

                    def kill(
                        h: dict[str, subprocess.Popen[bytes]] = holder,
                        held: sqlite3.Connection = lock,
                    ) -> None:
                        h["proc"].kill()
                        h["proc"].wait(20)
                        held.execute("ROLLBACK")

                    def hold(held: sqlite3.Connection = lock) -> None:
                        held.execute("BEGIN IMMEDIATE")

                    answering.then(Behaviour(before=hold, after=kill))
                    holder["proc"] = proc = _spawn("fire", *SYNC, "--url", answering.url, env=env)
                    proc.wait(20)  # killed by the receiver, right after answering 200
                    lock.close()
                if proc.poll() is None:
                    proc.kill()
                assert proc.wait(20) == -signal.SIGKILL
                spawned += 1
                assert _count(db_path, "SELECT count(*) FROM webhooks") == before + 1
    # a later command notices the dead owners
    rows = jdata(run("history", "--json", "-n", "100").stdout)
    assert len(rows) == spawned == 3 * KILLS_PER_POINT
    statuses = {r["status"] for r in rows}
    assert statuses <= {"interrupted", "delivered"} and "interrupted" in statuses
    originals = {
        r["id"]: bytes(b)
        for r, b in zip(
            rows,
            [
                sqlite3.connect(db_path)
                .execute("SELECT body FROM webhooks WHERE id = ?", (r["id"],))
                .fetchone()[0]
                for r in rows
            ],
            strict=True,
        )
    }
    interrupted = [r["id"] for r in rows if r["status"] == "interrupted"]
    with Receiver() as app:
        replay = run("replay", *interrupted, "--to", app.url, env=env)
        assert replay.returncode == 0, replay.stderr
        assert sorted(r.body for r in app.requests) == sorted(originals[i] for i in interrupted)


def test_sixteen_concurrent_fires_share_one_store(home: Path) -> None:
    with Receiver() as receiver:
        env = {"NANGO_HOOKS_SIGNING_KEY": KEY, "NANGO_HOOKS_URL": receiver.url}
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nango_cli",
                    "fire",
                    "--sync",
                    f"s{i}",
                    "-i",
                    "s",
                    "-m",
                    "A",
                    "-m",
                    "B",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(16)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    assert (
        db.execute("SELECT count(*) FROM webhooks WHERE status = 'delivered'").fetchone()[0] == 32
    )
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 32
    assert len(receiver.requests) == 32


WRITER = """
import sys
from pathlib import Path
from nango_cli.app.config_file import ConfigFile
path = Path(sys.argv[1])
i = 0
while True:
    i += 1
    config = ConfigFile.load(path)
    config.table_for_write("dev")["retries"] = i % 20
    config.table_for_write("dev")["url"] = "http://127.0.0.1:%d/" % (1000 + i % 20)
    config.save()
"""


@pytest.mark.parametrize("seed", range(3))
def test_sigkill_while_writing_config_leaves_old_or_new(home: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = home / "config.toml"
    assert run("config", "set", "retries", "0").returncode == 0
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT)
        time.sleep(0.15 + rng.random() * 0.1)
        proc.kill()
        proc.wait(10)
        data = tomllib.loads(path.read_text())  # parses: the old or the new version, whole
        dev = data["environments"]["dev"]
        assert 0 <= dev["retries"] < 20
        if "url" in dev:
            assert dev["url"] == f"http://127.0.0.1:{1000 + dev['retries']}/"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run("config", "get", "retries").returncode == 0


def test_ctrl_c_says_what_it_waits_for_and_a_second_ends_it_at_once(home: Path) -> None:
    """Before: with a request held (an API answer delayed by a fault), Ctrl-C waited out
    the shutdown grace silently. Now the first says what it waits for and the second
    ends the held request at once: exit 130."""
    import httpx

    from tests.listening import serving

    with serving("api", "Nango API on") as api:
        token = json.loads((home / "data" / "api.json").read_text())["token"]
        faults = httpx.post(
            f"{api.url}/_nango-hooks/faults",
            json={"latency": 30, "times": 1},
            headers={"X-Nango-Hooks-Token": token},
        )
        assert faults.status_code == 200

        def hold() -> None:
            headers = {"Authorization": "Bearer k", "Connection-Id": "c"}
            # the server ends it: what the second Ctrl-C is for
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{api.url}/records", params={"model": "M"}, headers=headers, timeout=60)

        held = threading.Thread(target=hold, daemon=True)
        held.start()
        time.sleep(0.5)  # the request is in, its answer held for 30 s
        api.proc.send_signal(signal.SIGINT)
        _wait_for(lambda: "Ctrl-C again to stop now" in api.err_path.read_text(), 10)
        started = time.monotonic()
        api.proc.send_signal(signal.SIGINT)
        code = api.proc.wait(10)
        stopped_in = time.monotonic() - started
    said = api.err_path.read_text()
    assert code == 130, said
    assert "waiting up to 5s for 1 request(s) still being answered" in said
    assert "Traceback" not in said and "unexpected" not in said
    assert stopped_in < 5  # the held 30 s answer was not waited for


# Ctrl-C lands exactly while the CLI's modules load: an import hook sends SIGINT when
# `typer` is asked for, then the entry point runs as `python -m nango_cli` would run it.
_INTERRUPTED_IMPORT = """
import builtins, os, runpy, signal, sys
real = builtins.__import__
def hook(name, *args, **kwargs):
    if name == "typer":
        builtins.__import__ = real
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)
builtins.__import__ = hook
sys.argv = ["nango-hooks", "history"]
runpy.run_module("nango_cli", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_while_the_cli_loads_exits_130_without_a_traceback(home: Path) -> None:
    """Before: the imports ran outside the entry point's handler; on a busy machine a
    Ctrl-C in the first tenth of a second printed a traceback and exited -2 (found
    by the suite run four at a time)."""
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_IMPORT], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted\n"


@pytest.mark.parametrize("delay", [0.2, 0.35, 0.5, 0.65, 0.8])
def test_ctrl_c_at_any_moment_of_start_up_exits_130(home: Path, delay: float) -> None:
    """Before: a Ctrl-C while `dev` started could end in "unexpected RuntimeError", or be
    lost while a server was still binding (it then served on)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nango_cli",
            "dev",
            "--api-port",
            "0",
            "--listen-port",
            "0",
            "--ui-port",
            "0",
            "--no-forward",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
    said = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 130, said
    assert "unexpected" not in said and "Traceback" not in said, said


def test_a_stop_asked_for_before_the_server_started_is_kept(home: Path) -> None:
    """Before: a Ctrl-C that arrived while a server was still starting was dropped (its
    stop event did not exist yet), and the server then served on."""
    import asyncio

    from nango_cli.servers.api import ApiOptions, ApiServer
    from nango_cli.storage.webhooks import Store

    with Store(home / "h.sqlite3") as store:
        server = ApiServer(ApiOptions(port=0), store)
        server.stop("interrupted")
        asyncio.run(asyncio.wait_for(server.run(), 10))
    assert server.stop_reason == "interrupted" and server.stop_requested
