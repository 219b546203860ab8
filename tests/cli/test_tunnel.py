"""`nango-hooks tunnel` against a stand-in for Nango's connection endpoints (the project's
own API, which follows Nango's getConnection.ts and patchConnection.ts: GET shows
`webhook_url_override`, PATCH sets it, `""` clears it) and a local reverse proxy
playing ngrok, run as a user runs it: a real process, signalled as a terminal or a
supervisor would (Ctrl-C, SIGTERM), or killed (SIGKILL) and recovered with --restore.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from nango_cli.support.paths import Directories
from nango_cli.testing import RunningApi, running_api
from tests.cli.test_check_cmd import _free_port, handler
from tests.conftest import KEY, Cli, run

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-tunnel-0123456789abcdef"
TEAMMATE = "https://team.example.com/nango-webhooks"


@contextmanager
def proxy(target_port: int) -> Iterator[str]:
    """Plays ngrok: what reaches it goes to 127.0.0.1:target_port, and the answer back."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
            upstream.request("POST", self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
            self.send_response(reply.status)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def nango(cli: Cli, home: Path, directories: Directories) -> Iterator[RunningApi]:
    """The stand-in for Nango, on the tunnel's store, holding connection c1 of github."""
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    made = cli(
        "fire", "--auth", "creation", "-i", "github", "-c", "c1", "--url", "http://127.0.0.1:9/"
    )
    assert made.exit_code in (0, 4), made.stderr  # nothing listens there: the connection exists
    with running_api(secret_key=SECRET, store=directories.history_db) as api:
        yield api


def _override(api: RunningApi, connection: str = "c1") -> str | None:
    reply = httpx.get(
        f"{api.url}/connections/{connection}",
        params={"provider_config_key": "github"},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert reply.status_code == 200, reply.text
    value = reply.json()["webhook_url_override"]
    return str(value) if value else None


def _set_override(api: RunningApi, value: str) -> None:
    reply = httpx.patch(
        f"{api.url}/connections/c1",
        params={"provider_config_key": "github"},
        json={"webhook_url_override": value},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert reply.json() == {"success": True}


class Running:
    def __init__(self, proc: subprocess.Popen[bytes], err: Path, out: Path) -> None:
        self.proc, self.err, self.out = proc, err, out

    def said(self) -> str:
        return self.err.read_text()

    def printed(self) -> str:
        return self.out.read_text()

    def wait_for(self, text: str, seconds: float = 20, printed: bool = False) -> None:
        deadline = time.monotonic() + seconds
        while text not in (self.printed() if printed else self.said()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never said {text!r}:\n{self.said()}")
            time.sleep(0.02)

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(20)


@contextmanager
def tunnel(
    home: Path, api: RunningApi, public: str, port: int, to: str, *extra: str
) -> Iterator[Running]:
    err = home.parent / f"tunnel-{time.monotonic_ns()}.err"
    out = err.with_suffix(".out")
    args = ["tunnel", "-c", "c1", "-i", "github", "--public-url", public, "--port", str(port)]
    args += ["--forward-to", to, "--allow-private-url", "--watch", "0.1", *extra]
    env = {**os.environ, "NANGO_HOOKS_NANGO_HOST": api.url}
    with err.open("wb") as err_file, out.open("wb") as out_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nango_cli", *args],
            stdout=out_file,
            stderr=err_file,
            cwd=ROOT,
            env=env,
        )
    running = Running(proc, err, out)
    try:
        running.wait_for("Tunnel: connection c1")
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ok(headers: dict, body: bytes, seen: dict) -> int:
    seen.setdefault("got", []).append((headers, body))
    return 500 if seen.get("fail") else 200


def test_a_delivery_goes_through_the_tunnel_and_the_answer_comes_back(
    cli: Cli, home: Path, nango: RunningApi
) -> None:
    """From the stand-in (fire routes to the connection's override) through the proxy to
    a real handler, byte-exact and verified, stored; its 200 and its 500 reach the sender."""
    port = _free_port()
    seen: dict = {}
    with (
        handler(lambda h, b, s: _ok(h, b, seen)) as to,
        proxy(port) as public,
        tunnel(home, nango, public, port, to) as running,
    ):
        installation = _override(nango)
        assert installation and installation.startswith(public + "?nango_hooks=")
        sent = cli("--json", "fire", "--sync", "s", "-i", "github", "-m", "S", "-c", "c1")
        assert sent.exit_code == 0, sent.stdout
        (fired,) = json.loads(sent.stdout)["data"]["webhooks"]
        (headers, body) = seen["got"][0]
        stored = cli("history", "show", fired["id"], "--raw")
        assert body == stored.stdout_bytes  # byte-exact through proxy and listener
        assert (
            headers["x-nango-hmac-sha256"]
            == json.loads(cli("--json", "history", "show", fired["id"]).stdout)["data"]["headers"][
                "X-Nango-Hmac-Sha256"
            ]
        )
        running.wait_for("sync", printed=True)
        assert "valid" in running.printed() and "not valid" not in running.printed()
        seen["fail"] = True
        failed = cli("--json", "fire", "--sync", "s", "-i", "github", "-m", "S", "-c", "c1")
        assert failed.exit_code == 4, failed.stdout  # the handler's 500 reached the sender
        (webhook,) = json.loads(failed.stdout)["data"]["webhooks"]
        assert [a["status_code"] for a in webhook["attempts"]] == [500, 500, 500]
        assert len(seen["got"]) == 4  # the first, then the failed one sent 3 times
        assert running.stop(signal.SIGINT) == 130
    assert _override(nango) is None  # put back: it was unset
    assert "put back to unset" in running.said()


@pytest.mark.parametrize("run", range(20))
def test_the_previous_url_comes_back_after_ctrl_c_sigterm_and_sigkill(
    cli: Cli, home: Path, nango: RunningApi, run: int
) -> None:
    """20 runs, cycling Ctrl-C, SIGTERM and SIGKILL (+ `tunnel --restore`): the URL a
    teammate had set is back every time."""
    _set_override(nango, TEAMMATE)
    port = _free_port()
    how = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)[run % 3]
    with (
        handler(lambda h, b, s: 200) as to,
        proxy(port) as public,
        tunnel(home, nango, public, port, to) as running,
    ):
        assert _override(nango) != TEAMMATE
        code = running.stop(how)
    if how == signal.SIGKILL:
        assert code == -9 and _override(nango) != TEAMMATE  # the lease is all that is left
        env = {"NANGO_HOOKS_NANGO_HOST": nango.url}
        restored = cli("tunnel", "--restore", env=env)
        assert restored.exit_code == 0, restored.stderr
        assert "put back to " + TEAMMATE in restored.stderr
    else:
        assert code == 130, running.said()
    assert _override(nango) == TEAMMATE


def test_a_change_made_meanwhile_is_said_at_once_and_never_overwritten(
    home: Path, nango: RunningApi
) -> None:
    port = _free_port()
    with (
        handler(lambda h, b, s: 200) as to,
        proxy(port) as public,
        tunnel(home, nango, public, port, to) as running,
    ):
        _set_override(nango, TEAMMATE)
        running.wait_for("no longer sends its webhooks here")
        assert running.stop(signal.SIGTERM) == 130
    assert _override(nango) == TEAMMATE
    assert f"left as {TEAMMATE}" in running.said()


def test_a_leftover_lease_is_put_back_before_a_new_tunnel_starts(
    home: Path, nango: RunningApi
) -> None:
    _set_override(nango, TEAMMATE)
    port = _free_port()
    with handler(lambda h, b, s: 200) as to, proxy(port) as public:
        with tunnel(home, nango, public, port, to) as crashed:
            crashed.stop(signal.SIGKILL)
        with tunnel(home, nango, public, port, to) as again:
            assert "did not stop cleanly left this" in again.said()
            assert again.stop(signal.SIGINT) == 130
    assert _override(nango) == TEAMMATE


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/hooks", "loopback"),
        ("http://10.1.2.3/hooks", "private address"),
        ("http://localhost:9/", "names this machine"),
        ("ftp://example.com/", "must start with http:// or https://"),
    ],
)
def test_a_url_nango_would_refuse_is_refused_before_anything_changes(
    cli: Cli,
    home: Path,
    nango: RunningApi,
    url: str,
    why: str,
    directories: Directories,
) -> None:
    _set_override(nango, TEAMMATE)
    env = {"NANGO_HOOKS_NANGO_HOST": nango.url}
    done = cli("tunnel", "-c", "c1", "-i", "github", "--public-url", url, env=env)
    assert done.exit_code == 2 and why in done.stderr, done.stderr
    assert _override(nango) == TEAMMATE
    db = sqlite3.connect(directories.history_db)
    assert db.execute("SELECT COUNT(*) FROM tunnel_leases").fetchone()[0] == 0


def test_production_needs_yes_without_a_terminal(cli: Cli, home: Path, nango: RunningApi) -> None:
    env = {"NANGO_HOOKS_NANGO_HOST": nango.url}
    assert cli("config", "set-key", "--secret", SECRET, "-e", "prod").exit_code == 0
    args = [
        "tunnel",
        "-e",
        "prod",
        "-c",
        "c1",
        "-i",
        "github",
        "--forward-to",
        "http://127.0.0.1:9/",
    ]
    done = cli(*args, "--public-url", "https://abc.ngrok.app/", env=env)
    assert done.exit_code == 2 and "--yes" in done.stderr, done.stderr
    assert _override(nango) is None


def test_prune_clears_what_this_installation_left_without_a_lease(
    cli: Cli,
    home: Path,
    nango: RunningApi,
    directories: Directories,
) -> None:
    port = _free_port()
    with (
        handler(lambda h, b, s: 200) as to,
        proxy(port) as public,
        tunnel(home, nango, public, port, to) as crashed,
    ):
        crashed.stop(signal.SIGKILL)
    db = sqlite3.connect(directories.history_db)
    db.execute("DELETE FROM tunnel_leases")  # the lease lost: only the tag says whose it is
    db.commit()
    db.close()
    env = {"NANGO_HOOKS_NANGO_HOST": nango.url}
    asked = cli("tunnel", "--prune", env=env)
    assert asked.exit_code == 2 and "--yes" in asked.stderr
    assert _override(nango) is not None
    pruned = cli("tunnel", "--prune", "--yes", env=env)
    assert pruned.exit_code == 0 and "webhook_url_override cleared" in pruned.stderr
    assert _override(nango) is None
    # a teammate's URL carries no tag of ours: never pruned
    _set_override(nango, TEAMMATE)
    assert "no webhook URL set by a tunnel" in cli("tunnel", "--prune", "--yes", env=env).stderr
    assert _override(nango) == TEAMMATE


def test_json_says_where_it_points_and_what_it_put_back(home: Path, nango: RunningApi) -> None:
    port = _free_port()
    with (
        handler(lambda h, b, s: 200) as to,
        proxy(port) as public,
        tunnel(home, nango, public, port, to, "--json") as running,
    ):
        running.wait_for('"tunnel"', printed=True)
        assert running.stop(signal.SIGINT) == 130
    events = [json.loads(line) for line in running.printed().splitlines()]
    started, restored = events[0], events[-1]
    assert started["event"] == "tunnel" and started["data"]["previous"] is None
    assert started["data"]["webhook_url_override"].startswith(public + "?nango_hooks=")
    assert restored["event"] == "restore" and restored["data"]["outcome"] == "restored"


def test_a_port_in_use_ends_it_with_the_url_put_back(home: Path, nango: RunningApi) -> None:
    import socket

    _set_override(nango, TEAMMATE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["tunnel", "-c", "c1", "-i", "github", "--public-url", "http://127.0.0.1:9/"]
        args += ["--port", str(port), "--forward-to", "http://127.0.0.1:9/", "--allow-private-url"]
        done = run(*args, env={"NANGO_HOOKS_NANGO_HOST": nango.url})
    assert done.returncode == 8, done.stderr
    assert _override(nango) == TEAMMATE
    assert f"put back to {TEAMMATE}" in done.stderr
