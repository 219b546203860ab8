"""State files under parallel writers and in places that cannot hold them: each case
is real processes on real files, and each was lost data or "unexpected" (exit 1)
before."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import KEY, ROOT, run
from tests.receiver import Receiver


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(*args, env=env)


def test_parallel_config_writers_lose_nothing(home: Path) -> None:
    """Before: 16 parallel `config set-sync` / `set-url --connection` runs, all exiting
    0, left 60 of 80 updates missing (read-modify-write without a lock)."""
    jobs = []
    for i in range(40):
        jobs.append(("config", "set-sync", f"sync-{i}", "-i", f"int-{i}", "-m", f"M{i}"))
        jobs.append(("config", "set-url", f"http://127.0.0.1:1/{i}", "--connection", f"c-{i}"))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda args: _cli(*args), jobs))
    assert [r.returncode for r in results] == [0] * len(jobs), [r.stderr for r in results][:3]
    data = tomllib.loads((home / "config.toml").read_text())
    assert set(data["syncs"]) == {f"sync-{i}" for i in range(40)}
    assert data["syncs"]["sync-7"] == {"integration": "int-7", "models": ["M7"]}
    assert {c: t["url"] for c, t in data["connections"].items()} == {
        f"c-{i}": f"http://127.0.0.1:1/{i}" for i in range(40)
    }
    assert oct((home / "config.toml").stat().st_mode & 0o777) == "0o600"


def test_clears_and_prunes_never_break_a_concurrent_fire(home: Path) -> None:
    """Before: `fire` and `fire --count` running while `history clear`/`prune` and
    `records clear` ran died with "unexpected IntegrityError" (an attempt of a webhook
    just deleted), exit 1, in 30 of 124 runs."""
    with Receiver() as receiver:
        assert _cli("config", "set-url", receiver.url).returncode == 0
        assert _cli("config", "set-key", KEY).returncode == 0
        assert _cli("config", "set-sync", "s", "-i", "s", "-m", "S").returncode == 0
        fires = [("fire", "--sync", "s", "--added", "5")] * 16
        fires += [("fire", "--sync", "s", "--count", "30", "--concurrency", "5")] * 8
        clears = [
            ("history", "clear", "--yes"),
            ("records", "clear", "--yes"),
            ("history", "prune", "--older-than", "0s"),
        ] * 12
        with ThreadPoolExecutor(max_workers=8) as pool:
            done = list(pool.map(lambda args: _cli(*args), [*fires, *clears]))
        assert len(receiver.requests) >= 16 + 8 * 30  # every fire did send
    failures = [(r.args[3:], r.returncode, r.stderr[-300:]) for r in done if r.returncode != 0]
    assert failures == []


def _open(path: str, barrier: object, results: object) -> None:
    from nango_cli.storage.webhooks import Store

    barrier.wait()  # type: ignore[attr-defined]
    try:
        Store(Path(path)).close()
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:
        results.put(repr(exc))  # type: ignore[attr-defined]


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Before: 12 processes opening a fresh store at the same instant failed with
    "database is locked" in 5-6 of 30 trials: the WAL switch does not wait for a lock."""
    context = multiprocessing.get_context("spawn")
    outcomes = []
    for trial in range(10):
        path = tmp_path / f"trial-{trial}" / "history.sqlite3"
        path.parent.mkdir()
        barrier, results = context.Barrier(12), context.Queue()
        processes = [
            context.Process(target=_open, args=(str(path), barrier, results)) for _ in range(12)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        outcomes += [results.get(timeout=10) for _ in processes]
    assert outcomes == ["ok"] * 120


@pytest.mark.parametrize(
    "args",
    [
        ("config", "set-url", "http://127.0.0.1:1/"),
        ("history",),
        ("config", "show"),
        ("fire", "--sync", "s", "-i", "s", "-m", "S", "--url", "http://127.0.0.1:1/"),
    ],
    ids=["config-set-url", "history", "config-show", "fire"],
)
def test_a_state_directory_that_cannot_be_made_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Before: "unexpected PermissionError" (exit 1) from `config set-url` and `history`,
    and "no signing key" from `fire`. A directory under a regular file cannot be made,
    even by root (CI runs as root, whom a read-only directory does not stop)."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    home = blocker / "state"
    done = subprocess.run(
        [sys.executable, "-m", "nango_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NANGO_HOOKS_HOME": str(home)},
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert str(home) in done.stderr and "Traceback" not in done.stderr
    assert "unexpected" not in done.stderr and "no signing key" not in done.stderr
    # The control: the same command with a home it can make.
    ok = subprocess.run(
        [sys.executable, "-m", "nango_cli", "config", "path"],
        capture_output=True,
        text=True,
        env={**os.environ, "NANGO_HOOKS_HOME": str(tmp_path / "fine")},
        cwd=ROOT,
    )
    assert ok.returncode == 0
