"""Hostile input and resource limits: what an attacker or a broken sender does.

Each test replays an attack from issue 11 (scaled down to run in CI) against
the real listener or the real CLI, and fails on the code before the fix. The
untrusted bytes come in over real sockets or real files.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import resource
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from nango_cli.protocol import signatures
from nango_cli.protocol.signatures import KeyRing
from nango_cli.storage.webhooks import Store
from tests.conftest import KEY, ROOT, jdata, run
from tests.listening import InProcess, listening
from tests.receiver import Receiver

# What must never reach a terminal raw: ESC (every CSI/OSC starts with it), BEL, the
# C1 CSI (0x9b), DEL, bidi overrides and isolates, a zero-width joiner.
FORBIDDEN_TEXT = ["\x1b", "\x07", "\x9b", "\x7f", "\u202e", "\u2066", "\u2069", "\u200d"]
FORBIDDEN_BYTES = [t.encode() for t in FORBIDDEN_TEXT] + [b"\xc2\x9b"]

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # write to the clipboard
OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"  # a hyperlink
OSC0 = "\x1b]0;pwned\x07"  # the window title
CLEAR = "\x1b[2J\x1b[H"
HOSTILE = {
    "from": "nango",
    "type": "sync",
    "syncName": "\u202egnp.exe" + OSC0,
    "model": "\x1b[31mModel\u2066",
    "connectionId": "conn\x07\x9b1",
    "providerConfigKey": "prov\u200d" + CLEAR,
    "responseResults": {"added": OSC52, "updated": OSC8, "deleted": CLEAR + "\x07\x7f"},
    "success": True,
    "modifiedAfter": "2026-11-01T00:00:00.000Z" + OSC0,
}


def _clean(output: str | bytes) -> None:
    if isinstance(output, bytes):
        for forbidden in FORBIDDEN_BYTES:
            assert forbidden not in output, (forbidden, output[:2000])
    else:
        for forbidden in FORBIDDEN_TEXT:
            assert forbidden not in output, (repr(forbidden), output[:2000])


# ---------------------------------------------------------------- 1, 10: the terminal


@pytest.mark.parametrize(
    "mode", [[], ["--verbose"], ["--json"]], ids=["default", "verbose", "json"]
)
def test_an_unsigned_hostile_post_cannot_write_to_the_terminal(home: Path, mode: list[str]) -> None:
    """Before: listen printed responseResults unescaped, so an unsigned POST wrote OSC 52,
    OSC 8, OSC 0, CSI 2J and BEL to the developer's terminal."""
    body = json.dumps(HOSTILE).encode()  # C0 as \\u escapes in JSON: raw once parsed
    env = {"NO_COLOR": "1", "NANGO_HOOKS_SIGNING_KEY": KEY}
    with listening("--count", "1", *mode, env=env) as lst:
        odd = "\u202e\x9bvalue".encode()  # UTF-8 bytes of a bidi override and a C1
        reply = httpx.post(lst.url, content=body, headers={b"x-odd": odd})
        assert reply.status_code == 200
        code, out, err = lst.finish()
    assert code == 0, err
    _clean(out)
    _clean(err)
    assert "\\x1b]52" in out or "\\u001b]52" in out  # shown, escaped


def test_a_raw_c1_header_byte_with_a_strict_utf8_stdout(home: Path) -> None:
    """Before: a raw 0x9b header byte made `listen -v` answer 500 on a strict UTF-8
    stdout, and `history show` crash."""
    env = {"PYTHONIOENCODING": "utf-8:strict", "NO_COLOR": "1"}
    with listening("--count", "1", "--verbose", env=env) as lst:
        port = int(lst.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
                + b"X-Odd: a\x9bb\r\nContent-Length: 2\r\n\r\n{}"
            )
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
        code, out, err = lst.finish()
    assert code == 0 and "Traceback" not in err
    _clean(out)
    (row,) = jdata(run("history", "--json", env=env).stdout)
    shown = run("history", "show", row["id"], env=env)
    assert shown.returncode == 0, shown.stderr
    _clean(shown.stdout)
    assert "a\\udc9bb" in shown.stdout or "a\\x9bb" in shown.stdout


def _import(
    cli_home: Path, line: dict[str, object], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"import-{time.monotonic_ns()}.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return run("history", "import", str(path), env={"NO_COLOR": "1"})


def _export_line(**fields: object) -> dict[str, object]:
    line: dict[str, object] = {
        "format": "nango-hooks/webhook@1",
        "id": "abcdef123456",
        "created_at": "2026-11-01T00:00:00.000Z",
        "direction": "sent",
        "status": "failed",
        "body": json.dumps(HOSTILE),
        "headers": {"X-Evil": OSC52, "x-bidi": "\u202eabc"},
        "env": "dev\x1b[2J",
        "type": "sync" + OSC0,
        "sync_name": "s\u2066",
        "model": "M\x07",
        "connection_id": "c" + OSC8,
        "provider_config_key": "p\x9b",
        "targets": ["http://t.example/" + OSC0],
        "attempt_count": 1,
        "last_status_code": 500,
        "latency_ms": 12.5,
        "attempts": [
            {
                "target": "http://t.example/" + OSC52,
                "number": 1,
                "started_at": "2026-11-01T00:00:00.000Z",
                "outcome": "network_error",
                "error_class": "reset",
                "error": "boom" + OSC0 + CLEAR,
                "note": "n\u202e",
                "response_headers": {"X-R": OSC8},
                "response_body": OSC52 + "body",
            }
        ],
    }
    line.update(fields)
    return line


def test_imported_hostile_lines_are_escaped_in_every_view(home: Path, tmp_path: Path) -> None:
    """Before: imported lines injected raw escapes into `history` and `history show`
    (an attempt's error, the target, headers…)."""
    result = _import(home, _export_line(), tmp_path)
    assert result.returncode == 0, result.stderr
    env = {"NO_COLOR": "1", "COLUMNS": "200"}
    for args in (["history"], ["history", "show", "abcdef123456"], ["history", "--json"]):
        shown = run(*args, env=env)
        assert shown.returncode == 0, (args, shown.stderr)
        _clean(shown.stdout)
        _clean(shown.stderr)
    raw = run("history", "show", "abcdef123456", "--json", env=env).stdout
    assert "\\u202e" in raw and "\\u009b" in raw  # --json escapes bidi and C1
    keyed = {**env, "NANGO_HOOKS_SIGNING_KEY": KEY}
    refused = run("replay", "abcdef123456", "--to", "http://127.0.0.1:9/", env=keyed)
    assert refused.returncode == 2 and "X-Evil" in refused.stderr  # unsendable header
    _clean(refused.stderr)
    clean_headers = _export_line(id="abcdef654321", headers={"x-ok": "1"})
    assert _import(home, clean_headers, tmp_path).returncode == 0
    with Receiver() as receiver:
        replayed = run(
            "replay",
            "abcdef654321",
            "--to",
            receiver.url,
            env={**env, "NANGO_HOOKS_SIGNING_KEY": KEY},
        )
        assert replayed.returncode == 0, replayed.stderr
        _clean(replayed.stdout)
        _clean(replayed.stderr)
        # the replay sent the stored bytes, hostile as they are: only the terminal is spared
        assert receiver.requests[0].body == json.dumps(HOSTILE).encode()
    hostile_body = json.dumps(HOSTILE, ensure_ascii=False).encode()
    dry = run(
        "fire",
        "--body",
        "-",
        "--dry-run",
        input=hostile_body,
        env={**env, "NANGO_HOOKS_SIGNING_KEY": KEY},
    )
    assert dry.returncode == 0, dry.stderr
    _clean(dry.stdout)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("created_at", "2026" + OSC0, "created_at must be an ISO-8601 UTC time"),
        ("status", "failed" + CLEAR, "status must be one of"),
        ("latency_ms", "x", "latency_ms must be a number"),
        ("last_status_code", "500" + OSC0, "last_status_code must be a whole number"),
        ("headers", {"X-Number": 5}, "headers must be an object of string values"),
        ("attempt_count", 10**400, "attempt_count must be a whole number"),
        ("id", "not-hex", "id must be 4 to 32 hex characters"),
    ],
)
def test_imported_lines_with_wrong_types_are_refused_whole(
    home: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    """Before: wrong types (latency_ms "x", a numeric header) made `history` exit 1 until
    the row was pruned; injected escapes in created_at/status reached the terminal."""
    result = _import(home, _export_line(**{field: value}), tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "nothing was imported" in result.stderr
    _clean(result.stderr)
    assert jdata(run("history", "--json").stdout) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("started_at", "x" + OSC0, "attempts[0].started_at must be an ISO-8601 UTC time"),
        ("status_code", "200", "attempts[0].status_code must be a whole number"),
        ("outcome", "fine", "attempts[0].outcome must be one of"),
    ],
)
def test_imported_attempts_are_checked_too(
    home: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    line = _export_line()
    attempts = line["attempts"]
    assert isinstance(attempts, list)
    attempts[0][field] = value
    result = _import(home, line, tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_one_huge_field_cannot_pad_every_row(home: Path, tmp_path: Path) -> None:
    """Before: `history` padded every row to its widest cell: one 4 MB field (a
    connectionId in a received webhook) made 84 MB of output for 20 rows."""
    lines = [
        _export_line(id=f"{i:012x}", connection_id="c" * (4 * 1024 * 1024 if i == 0 else 3))
        for i in range(20)
    ]
    path = tmp_path / "wide.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    imported = run("history", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    listed = run("history", env={"NO_COLOR": "1"})
    assert listed.returncode == 0
    assert len(listed.stdout) < 20 * 400  # a screenful, not megabytes


def test_project_files_are_escaped_in_notes(home: Path, tmp_path: Path) -> None:
    """Before: nango.yaml model names were printed raw in fire's note line."""
    (tmp_path / "nango.yaml").write_text(
        'integrations:\n  gh:\n    syncs:\n      evil:\n        output: "M\\e]0;pwned\\a\\u202e"\n'
    )
    with Receiver() as receiver:
        result = subprocess.run(
            [sys.executable, "-m", "nango_cli", "fire", "--sync", "evil", "--url", receiver.url],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "NANGO_HOOKS_SIGNING_KEY": KEY, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert "sync 'evil' from" in result.stderr
    _clean(result.stderr)
    _clean(result.stdout)


# ---------------------------------------------------------------- 2, 12: files


def test_writing_a_file_never_chmods_its_directory(home: Path, tmp_path: Path, cli) -> None:
    """Before: `history export -o FILE` and `--config FILE config set` chmodded the
    directory holding the file to 0700 (a sticky /tmp lost its sticky bit)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    project = tmp_path / "project"
    project.mkdir()
    project.chmod(0o755)
    assert cli("history", "export", "-o", str(shared / "out.jsonl")).exit_code == 0
    assert (
        cli("--config", str(project / "c.toml"), "config", "set-url", "http://x.test/").exit_code
        == 0
    )
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(project.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "out.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((project / "c.toml").stat().st_mode) == 0o600


def test_wal_and_shm_files_are_private_from_the_start(home: Path) -> None:
    """Before: history.sqlite3-wal and -shm were 0644 when first created."""
    assert run("history", "prune", "--older-than", "1d").returncode == 0
    data = home / "data"
    for name in ("history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # made by us


def test_unsafe_config_locations_are_warned_about_once(home: Path, tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    config = open_dir / "c.toml"
    config.write_text('[environments.dev]\nsigning_key = "' + KEY + '"\n')
    config.chmod(0o644)
    result = run("--config", str(config), "config", "get", "url")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("writable by everyone" in w for w in warnings), result.stderr
    assert any("holds a key and is readable by other users" in w for w in warnings)
    assert len(warnings) == len(set(warnings))
    assert KEY not in result.stderr + result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_config_directory_owned_by_another_user_is_warned_about(
    home: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    result = run("--config", str(foreign / "c.toml"), "config", "get", "url")
    assert "belongs to another user" in result.stderr


def test_a_symlinked_config_is_written_through(home: Path, tmp_path: Path, cli) -> None:
    """Before: a symlinked --config was silently replaced by a regular file."""
    real = tmp_path / "dotfiles" / "nango-hooks.toml"
    real.parent.mkdir()
    real.write_text("")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    result = cli("--config", str(link), "config", "set-url", "http://x.test/")
    assert result.exit_code == 0
    assert link.is_symlink() and "x.test" in real.read_text()
    assert "is a symlink: wrote its target" in result.stderr


# ---------------------------------------------------------------- 3: idle connections


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))


def test_idle_connections_are_closed_and_capped(home: Path) -> None:
    """Before: ~1,020 idle sockets (fd limit 1024) made the listener unreachable and
    flooded stderr with accept() tracebacks. Here at a 160-descriptor limit, 220 sockets:
    each is refused (over the cap, 160 less 64 kept free) or closed when idle, accepting
    never runs out of descriptors, and a webhook still gets in. (The cap itself is
    checked exactly in the next test.)"""
    with listening("--idle-timeout", "2", preexec_fn=_limit_files) as lst:
        port = int(lst.url.rsplit(":", 1)[1].split("/")[0])
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(220)]
        refused = closed = 0
        deadline = time.monotonic() + 15
        for sock in sockets:
            sock.settimeout(max(deadline - time.monotonic(), 0.1))
            try:
                data = sock.recv(64)
            except (TimeoutError, ConnectionResetError):
                continue
            refused += data.startswith(b"HTTP/1.1 503")
            closed += data == b""
            sock.close()
        assert refused + closed == 220  # none left held by the listener
        probe = httpx.post(lst.url, content=b"{}", timeout=5)
        assert probe.status_code == 200
        lst.proc.send_signal(2)
        _, _, err = lst.finish()
    assert "Traceback" not in err
    assert "Too many open files" not in err  # accepting never ran out of descriptors
    assert len(err.splitlines()) < 40  # refusals are rate-limited to a line a second


def test_connections_over_the_cap_are_refused_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3")
    with InProcess(store, max_connections=5, idle_timeout=1.5) as lst:
        held = [socket.create_connection(("127.0.0.1", lst.port), timeout=5) for _ in range(5)]
        time.sleep(0.3)
        extra = [socket.create_connection(("127.0.0.1", lst.port), timeout=5) for _ in range(5)]
        for sock in extra:
            sock.settimeout(2)
            assert sock.recv(64).startswith(b"HTTP/1.1 503")  # at once, not after a timeout
            sock.close()
        for sock in held:
            sock.settimeout(5)
            assert sock.recv(64) == b""  # closed once idle for 1.5 s
            sock.close()
        assert httpx.post(lst.url, content=b"{}", timeout=5).status_code == 200
    assert lst.summary.notices["refused"] == 5


def test_an_idle_connection_is_closed_after_the_idle_timeout(home: Path) -> None:
    with listening("--idle-timeout", "1") as lst:
        port = int(lst.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # headers never finished
            sock.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
            sock.settimeout(5)
            assert sock.recv(64) == b""  # closed by the listener, not held forever
        lst.proc.send_signal(2)
        lst.finish()


# ---------------------------------------------------------------- 4: poisoned batches


def test_a_poisoned_request_never_fails_its_batch_neighbours(tmp_path: Path) -> None:
    """Before: 4 bodies with a JSON lone surrogate in syncName, model or connectionId
    failed their whole commit batch: 70 valid webhooks from other senders got 500."""
    store = Store(tmp_path / "h.sqlite3")
    poisoned = [
        b'{"type":"sync","from":"nango","syncName":"\\ud800x","connectionId":"p1"}',
        b'{"type":"sync","from":"nango","model":"\\udfff","connectionId":"p2"}',
        b'{"type":"sync","from":"nango","connectionId":"\\ud83d"}',
        b'{"type":"sync","from":"nango","providerConfigKey":"\\udc00","connectionId":"p4"}',
    ]
    with InProcess(store, keys=KeyRing(current="k")) as lst:

        async def send_all() -> list[tuple[str, int]]:
            async with httpx.AsyncClient(timeout=10) as client:

                async def one(tag: str, body: bytes) -> tuple[str, int]:
                    reply = await client.post(lst.url, content=body)
                    return tag, reply.status_code

                valid = [
                    (
                        f"valid-{i}",
                        json.dumps({"type": "sync", "connectionId": f"valid-{i}"}).encode(),
                    )
                    for i in range(140)
                ]
                jobs = [one(t, b) for t, b in valid] + [
                    one(f"poison-{i}", b) for i, b in enumerate(poisoned)
                ]
                return await asyncio.gather(*jobs)

        results = asyncio.run(send_all())
    answered = dict(results)
    assert all(code == 200 for code in answered.values()), answered
    db = sqlite3.connect(tmp_path / "h.sqlite3")
    stored = {r[0] for r in db.execute("SELECT connection_id FROM webhooks")}
    assert {f"valid-{i}" for i in range(140)} <= stored  # each one, by identity
    assert "\\ud83d" in stored  # the poisoned ones stored, escaped
    assert not lst.notices("store")


# ---------------------------------------------------------------- 5: memory


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_bodies_in_flight_share_one_memory_budget(home: Path) -> None:
    """Before: 250 connections each sending a 5 MB body minus one byte took 1.34 GB and
    never gave it back. Here: 100 connections, 2 MB bodies minus one byte, 16 MB budget."""
    args = ["--max-body", "2MB", "--body-budget", "16MB", "--body-timeout", "3"]
    with listening(*args) as lst:
        port = int(lst.url.rsplit(":", 1)[1].split("/")[0])
        before = _peak_rss_mb(lst.proc.pid)
        chunk = b"x" * (2 * 1024 * 1024 - 1)
        answers: list[bytes] = []

        def attack() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                head = (
                    f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2097152\r\n\r\n"
                )
                sock.sendall(head.encode())
                try:
                    sock.sendall(chunk)
                    sock.settimeout(10)
                    answers.append(sock.recv(64))
                except OSError:
                    answers.append(b"closed")

        threads = [threading.Thread(target=attack) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        peak = _peak_rss_mb(lst.proc.pid)
        probe = httpx.post(lst.url, content=b"{}", timeout=5)
        lst.proc.send_signal(2)
        _, _, err = lst.finish()
    assert probe.status_code == 200
    statuses = {a[9:12] for a in answers if a.startswith(b"HTTP/1.1 ")}
    assert statuses <= {b"503", b"408"} and b"503" in statuses, answers[:5]
    assert peak - before < 100, (before, peak)  # 100 x 2 MB unbounded would be 200 MB more
    assert "Traceback" not in err


# ---------------------------------------------------------------- 6, 8: stdout


def test_a_reader_that_stops_reading_never_stops_the_answers(home: Path) -> None:
    """Before: with stdout not drained (`listen --json | slow-consumer`, Ctrl-S), the
    listener stopped answering every sender after ~64 KiB of output."""
    with listening("--json") as lst:  # stdout is a pipe nobody reads
        with httpx.Client(timeout=5) as client:
            for i in range(300):
                body = json.dumps({"type": "sync", "connectionId": f"c{i}", "pad": "p" * 2000})
                assert client.post(lst.url, content=body).status_code == 200, i
        lst.proc.send_signal(2)
        lst.proc.wait(30)
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    stored = {r[0] for r in db.execute("SELECT connection_id FROM webhooks")}
    assert {f"c{i}" for i in range(300)} <= stored


def test_a_closed_stdout_stops_the_printing_not_the_answering(home: Path) -> None:
    """Before: `listen | head -n 1`: after stdout closed, each webhook got a 500 (so
    senders retried and duplicated) and a traceback."""
    with listening() as lst:
        with httpx.Client(timeout=5) as client:
            assert client.post(lst.url, content=b"{}").status_code == 200
            lst.proc.stdout.readline()
            lst.proc.stdout.close()  # as `head -n 1` does
            for i in range(20):
                reply = client.post(lst.url, content=json.dumps({"connectionId": f"after-{i}"}))
                assert reply.status_code == 200, i
        lst.proc.send_signal(2)
        lst.proc.wait(30)
        err = lst.err_path.read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_malformed_http_is_one_line_not_a_traceback(home: Path) -> None:
    with listening() as lst:
        port = int(lst.url.rsplit(":", 1)[1].split("/")[0])
        for garbage in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(garbage)
                reply = sock.recv(64)
                assert reply.startswith(b"HTTP/1.") and reply[9:12] == b"400", reply
        assert httpx.post(lst.url, content=b"{}").status_code == 200
        lst.proc.send_signal(2)
        _, _, err = lst.finish()
    assert "Traceback" not in err
    assert sum("malformed: answered 400" in line for line in err.splitlines()) >= 1


def test_a_full_disk_is_a_503_and_one_line(tmp_path: Path) -> None:
    """Before: one traceback per request when the disk was full."""
    store = Store(tmp_path / "h.sqlite3")
    page_count = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {page_count + 2}")  # a real SQLITE_FULL
    with InProcess(store, keys=KeyRing(current="k")) as lst, httpx.Client(timeout=5) as client:
        replies = [
            client.post(lst.url, content=json.dumps({"pad": "x" * 20000})) for _ in range(10)
        ]
    assert {r.status_code for r in replies} == {503}
    assert all(r.headers.get("Retry-After") == "1" for r in replies)
    (notice,) = lst.notices("store")
    assert "database or disk is full" in notice.message


# ---------------------------------------------------------------- 7: encoded bodies


def test_encoded_bodies_are_stored_verified_and_forwarded_as_received(home: Path) -> None:
    """Before: gzip bodies were stored decompressed and cut to the compressed
    Content-Length, so the verdict was wrong and forward/replay resent a truncated body
    with the encoding header; invalid deflate was a 500."""
    raw = gzip.compress(
        json.dumps({"type": "sync", "from": "nango", "connectionId": "gz"}).encode()
    )
    headers = {"Content-Encoding": "gzip", **signatures.signature_headers(KEY, raw)}
    with Receiver() as app:
        env = {"NANGO_HOOKS_SIGNING_KEY": KEY}
        with listening("--json", "--count", "2", "--forward-to", app.url, env=env) as lst:
            assert httpx.post(lst.url, content=raw, headers=headers).status_code == 200
            bad = httpx.post(
                lst.url, content=b"not deflate", headers={"Content-Encoding": "deflate"}
            )
            assert bad.status_code == 200
            _code, out, _ = lst.finish()
        forwarded = app.requests[0]
    first, second = lst.events(out)
    assert first["signature"]["verdict"] == "valid" and first["connection_id"] == "gz"
    assert first["content_encoding"] == "gzip"
    assert any("not valid deflate" in n["text"] for n in second["schema"])
    assert forwarded.body == raw and forwarded.headers.get("Content-Encoding") == "gzip"
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    stored = db.execute("SELECT body FROM webhooks WHERE id = ?", (first["id"],)).fetchone()[0]
    assert bytes(stored) == raw


# ---------------------------------------------------------------- 13: inputs


def test_an_import_line_over_the_limit_is_refused_unread(home: Path, tmp_path: Path) -> None:
    """Before: a 1 GB import line took 4.2 GB of memory. Lines over 32 MB are refused."""
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"format": "nango-hooks/webhook@1", "body": "')
        handle.write(b"x" * (33 * 1024 * 1024))
        handle.write(b'"}\n')
    result = run("history", "import", str(path))
    assert result.returncode == 2 and "line 1 is longer than 32 MB" in result.stderr


def test_a_huge_project_file_is_refused(home: Path, tmp_path: Path) -> None:
    """Before: a 50 MB nango.yaml took 5 GB and 240 s."""
    (tmp_path / "nango.yaml").write_bytes(b"integrations: {}\n" + b"#" * (9 * 1024 * 1024))
    result = subprocess.run(
        [sys.executable, "-m", "nango_cli", "syncs"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 3 and "more than the 8 MB" in result.stderr


def test_deep_yaml_and_alias_bombs_are_config_errors(home: Path, tmp_path: Path) -> None:
    deep = "integrations:\n  x: " + "[" * 5000 + "]" * 5000 + "\n"
    # 28 levels, each a mapping of 9 fields that are all the previous level: 252 aliases,
    # 9^28 fields if walked.
    bomb = "models:\n  M:\n    f0: &a0 {id: string}\n" + "".join(
        f"    f{i}: &a{i} {{" + ", ".join(f"k{k}: *a{i - 1}" for k in range(9)) + "}\n"
        for i in range(1, 29)
    )
    aliases = "x: &x [1]\n" + "".join(f"y{i}: *x\n" for i in range(300))
    for name, text in (("deep", deep), ("bomb", bomb), ("aliases", aliases)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "nango.yaml").write_text(text)
        result = run("syncs", "--project", str(folder))
        assert result.returncode == 3, (name, result.stderr)
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_fire_body_from_an_endless_file_is_bounded(home: Path) -> None:
    """Before: `fire --body /dev/zero` read until memory ran out."""
    result = run(
        "fire",
        "--body",
        "/dev/zero",
        "--url",
        "http://127.0.0.1:9/",
        env={"NANGO_HOOKS_SIGNING_KEY": KEY},
    )
    assert result.returncode == 2 and "larger than 16 MB" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["fire", "--forward", "DEEP", "-i", "g"], 2),
        (
            [
                "fire",
                "--sync",
                "s",
                "-i",
                "s",
                "-m",
                "S",
                "--set-new",
                "x=" + "[" * 20000 + "]" * 20000,
            ],
            0,
        ),
        (["fire", "--forward", "SURROGATE", "-i", "g"], 0),
        (["fire", "--forward", "HUGEINT", "-i", "g"], 0),
        (["verify", "DEEP", "--signature", "ab" * 32], 5),
        (["replay", "--file", "DEEP"], 0),
    ],
    ids=[
        "deep forward",
        "deep --set",
        "lone surrogate",
        "huge integer",
        "verify deep",
        "replay deep",
    ],
)
def test_hostile_json_inputs_get_declared_exit_codes(
    home: Path, tmp_path: Path, args: list[str], code: int
) -> None:
    """Before: deep nesting, lone surrogates and huge integers exited 1 "unexpected …"."""
    inputs = {
        "DEEP": "[" * 100000 + "]" * 100000,
        "SURROGATE": '{"a": "\\ud800"}',
        "HUGEINT": '{"n": ' + "9" * 5000 + "}",
    }
    paths = {}
    for name, text in inputs.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(text)
    with Receiver() as receiver:
        env = {"NANGO_HOOKS_SIGNING_KEY": KEY, "NANGO_HOOKS_URL": receiver.url}
        result = run(*[str(paths[a]) if a in paths else a for a in args], env=env)
    assert result.returncode == code, result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_base64_bodies_in_imports_are_checked(home: Path, tmp_path: Path) -> None:
    line = _export_line(body_base64="not base64!")
    result = _import(home, line, tmp_path)
    assert result.returncode == 2 and "body_base64 must be valid base64" in result.stderr
    ok = _import(home, _export_line(body_base64=base64.b64encode(b"\xff\x00").decode()), tmp_path)
    assert ok.returncode == 0
