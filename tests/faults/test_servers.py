"""The three servers (listen, api, ui) hold the same limits: one suite, parametrized.

Each runs as the real CLI in a subprocess, and every refusal is checked beside a real
request the same server answered (the control): a server that refused everything
would fail here. Before the shared skeleton, api and ui had none of these limits.
"""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY
from tests.listening import Listening, serving

SECRET = "sk-test-0123456789abcdef0123456789"


@dataclass(frozen=True)
class Server:
    command: str
    ready: str
    method: str
    path: str
    headers: dict[str, str]

    def request(
        self, url: str, host: str | None = None, body: bytes | None = None
    ) -> httpx.Response:
        headers = dict(self.headers)
        if host is not None:
            headers["Host"] = host
        content = body if body is not None else (b"{}" if self.method == "POST" else None)
        return httpx.request(
            self.method, url + self.path, headers=headers, content=content, timeout=5
        )


SERVERS = {
    "listen": Server("listen", "Listening on", "POST", "", {"Content-Type": "application/json"}),
    "api": Server(
        "api", "Nango API on", "GET", "/connections", {"Authorization": f"Bearer {SECRET}"}
    ),
    "ui": Server("ui", "Inspector on", "GET", "api/webhooks", {}),
}
# What each server's page of a POST with a body is (for the body limits).
POSTS = {"listen": "", "api": "/sync/trigger", "ui": "api/fire"}


@pytest.fixture(params=list(SERVERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def keyed(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0


def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _start(kind: str, *args: str, **options: object) -> Iterator[Listening]:
    spec = SERVERS[kind]
    return serving(spec.command, spec.ready, *args, **options)  # type: ignore[arg-type]


def _finish(server: Listening) -> str:
    server.proc.send_signal(2)
    _, _, err = server.finish()
    return err


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))


def test_idle_connections_are_capped_and_closed(keyed, kind: str) -> None:
    """At a 160-descriptor limit, 220 sockets that send nothing: each is refused (over
    the cap, 160 less 64 kept free) or closed when idle; accepting never runs out of
    descriptors, and a real request is still answered, at once. Before: api and ui
    kept every idle socket open, and a real request waited past any timeout."""
    spec = SERVERS[kind]
    with _start(kind, "--idle-timeout", "2", preexec_fn=_limit_files) as server:
        port = _port(server.url)
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
        assert refused + closed == 220  # none left held by the server
        started = time.monotonic()
        assert spec.request(server.url).status_code == 200
        assert time.monotonic() - started < 1.0
        err = _finish(server)
    assert "Traceback" not in err
    assert "Too many open files" not in err
    assert len(err.splitlines()) < 40  # refusals are rate-limited to a line a second


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_connection_over_the_cap_gets_503_on_either_event_loop(
    keyed, kind: str, loop: str
) -> None:
    """Before: on uvloop the listener reset it (an AssertionError in the loop's log);
    api and ui had no cap at all."""
    spec = SERVERS[kind]
    env = {"NANGO_HOOKS_EVENT_LOOP": loop}
    with _start(kind, "--max-connections", "3", env=env) as server:
        port = _port(server.url)
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.settimeout(3)
        assert extra.recv(64).startswith(b"HTTP/1.1 503")
        extra.close()
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert spec.request(server.url).status_code == 200  # the control
        err = _finish(server)
    assert "AssertionError" not in err and "Traceback" not in err
    assert "refused: over 3 connections" in err


def test_a_malformed_request_is_one_notice_without_the_secret(keyed, kind: str) -> None:
    """Before: api and ui printed aiohttp's traceback, and a malformed Authorization
    header put the secret key itself into it."""
    spec = SERVERS[kind]
    with _start(kind) as server:
        port = _port(server.url)
        raw = (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
            + f"Authorization: Bearer {SECRET}\x01\r\n\r\n".encode()
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(raw)
            sock.settimeout(5)
            assert sock.recv(64).startswith(b"HTTP/1.0 400") or True
        assert spec.request(server.url).status_code == 200  # the control
        err = _finish(server)
    assert "Traceback" not in err
    assert SECRET not in err
    lines = [line for line in err.splitlines() if line.startswith("malformed:")]
    assert lines == ["malformed: answered 400: Invalid header value char"], err


def test_a_foreign_host_is_refused_with_421(keyed, kind: str) -> None:
    """A DNS-rebinding page sends its own name as Host. Before: api answered it (records,
    connections and the store's path), as listen did."""
    spec = SERVERS[kind]
    with _start(kind) as server:
        port = _port(server.url)
        refused = spec.request(server.url, host=f"evil.example:{port}")
        assert refused.status_code == 421
        assert spec.request(server.url, host=f"localhost:{port}").status_code == 200
        assert spec.request(server.url).status_code == 200
        err = _finish(server)
    assert "host: a request for another host" in err


def test_an_allowed_host_name_is_answered(keyed, kind: str) -> None:
    spec = SERVERS[kind]
    with _start(kind, "--allow-host", "tunnel.example") as server:
        port = _port(server.url)
        assert spec.request(server.url, host=f"tunnel.example:{port}").status_code == 200
        assert spec.request(server.url, host=f"other.example:{port}").status_code == 421
        _finish(server)


def test_a_body_over_the_cap_is_refused_unread(keyed, kind: str) -> None:
    spec = SERVERS[kind]
    with _start(kind, "--max-body", "1KB") as server:
        url = server.url + POSTS[kind]
        headers = {**spec.headers, "Content-Type": "application/json"}
        too_big = httpx.post(url, content=b"{" + b" " * 2000 + b"}", headers=headers, timeout=5)
        assert too_big.status_code == 413
        assert spec.request(server.url).status_code == 200
        err = _finish(server)
    assert "too-large:" in err and "Traceback" not in err


def test_a_body_that_never_arrives_gets_408(keyed, kind: str) -> None:
    spec = SERVERS[kind]
    with _start(kind, "--body-timeout", "1") as server:
        port = _port(server.url)
        headers = {**spec.headers, "Content-Type": "application/json", "Content-Length": "10"}
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = f"POST /{POSTS[kind].lstrip('/')} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            sock.sendall((head + lines + "\r\n{").encode())
            sock.settimeout(5)
            assert sock.recv(64).startswith(b"HTTP/1.1 408")
        assert spec.request(server.url).status_code == 200
        err = _finish(server)
    assert "timeout: a body not sent within 1s" in err


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_bodies_in_flight_share_one_budget(keyed, kind: str) -> None:
    """60 connections each sending all but the last byte of a 1 MB body, under a 4 MB
    budget: the excess is answered 503 and memory stays bounded. Before: 100 such
    connections (8 MB each) took the API from 43 MB to 1,258 MB, for good."""
    spec = SERVERS[kind]
    args = ["--max-body", "2MB", "--body-budget", "4MB", "--body-timeout", "3"]
    with _start(kind, *args) as server:
        port = _port(server.url)
        before = _rss_mb(server.proc.pid)
        path = "/" + POSTS[kind].lstrip("/")
        auth = "".join(f"{k}: {v}\r\n" for k, v in spec.headers.items())
        chunk = b"x" * (1024 * 1024 - 1)
        answers: list[bytes] = []

        def attack() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
                    f"Content-Length: {1024 * 1024}\r\n\r\n"
                )
                sock.sendall(head.encode())
                try:
                    sock.sendall(chunk)
                    sock.settimeout(10)
                    answers.append(sock.recv(64))
                except OSError:
                    answers.append(b"closed")

        threads = [threading.Thread(target=attack) for _ in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        peak = _rss_mb(server.proc.pid)
        assert spec.request(server.url).status_code == 200
        _finish(server)
    statuses = {a[9:12] for a in answers if a.startswith(b"HTTP/1.1 ")}
    assert b"503" in statuses  # past the budget
    assert peak - before < 60, (before, peak)
