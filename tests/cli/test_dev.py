"""`nango-hooks dev`: the API, a listener and the inspector in one process, one Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import KEY, ROOT, jdata, run
from tests.receiver import Receiver

SECRET = "sk-dev-0123456789abcdef"
PORTS_0 = ["--api-port", "0", "--listen-port", "0", "--ui-port", "0"]


def _start(home: Path) -> tuple[subprocess.Popen[bytes], Path, dict[str, str]]:
    err = home.parent / "dev.err"
    with err.open("wb") as sink:
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
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            cwd=ROOT,
            env=os.environ,
        )
    deadline = time.monotonic() + 20
    while "Ctrl-C to stop" not in err.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)
    text = err.read_text()
    urls = {
        name: text.split(f"  {label}")[1].split()[0]
        for name, label in (("api", "Nango API"), ("listener", "listener"), ("ui", "inspector"))
    }
    return proc, err, urls


def test_dev_serves_the_three_and_says_what_to_set(home: Path) -> None:
    with Receiver() as handler:
        assert run("config", "set-url", handler.url).returncode == 0
        assert run("config", "set-key", KEY).returncode == 0
        assert run("config", "set-key", "--secret", SECRET).returncode == 0
        assert run("config", "set-sync", "s", "-i", "github", "-m", "Issue").returncode == 0
        proc, err, urls = _start(home)
        try:
            banner = err.read_text()
            assert f"NANGO_HOST={urls['api']}" in banner
            assert f"forwards to {handler.url}" in banner
            assert "nango-hooks check" in banner
            # fire through the listener: verified, stored, forwarded to the handler
            fired = run(
                "--json", "fire", "--sync", "s", "-c", "c1", "--added", "2", "--to-listener"
            )
            assert fired.returncode == 0, fired.stderr
            (forwarded,) = handler.requests
            assert json.loads(forwarded.body)["connectionId"] == "c1"
            # the API serves what the webhook announced, to the handler's secret key
            page = httpx.get(
                f"{urls['api']}/records",
                params={"model": "Issue"},
                headers={
                    "Authorization": f"Bearer {SECRET}",
                    "Connection-Id": "c1",
                    "Provider-Config-Key": "github",
                },
            )
            assert page.status_code == 200 and len(page.json()["records"]) == 2
            wrong = httpx.get(f"{urls['api']}/connections", headers={"Authorization": "Bearer x"})
            assert wrong.status_code == 401
            assert httpx.get(urls["ui"]).status_code == 200
            received = jdata(run("--json", "history", "--received").stdout)
            assert received[0]["outcome"] == "received ✓ signature"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
    after = err.read_text()
    assert "Traceback" not in after
    # one Ctrl-C stopped all three: nothing answers, nothing is announced
    for url in urls.values():
        try:
            httpx.get(url, timeout=1)
            raise AssertionError(f"{url} still answers")
        except httpx.ConnectError:
            pass
    assert run("fire", "--sync", "s", "--to-listener").returncode == 6


def test_dev_with_a_port_in_use_starts_none(home: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "nango_cli",
                "dev",
                "--api-port",
                "0",
                "--listen-port",
                str(port),
                "--ui-port",
                "0",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
        )
    assert done.returncode == 8 and f"port {port} is already in use" in done.stderr
    assert "--listen-port" in done.stderr or "--port" in done.stderr


def test_dev_json_announces_its_addresses_then_streams_events(home: Path) -> None:
    assert run("config", "set-key", KEY).returncode == 0
    assert run("config", "set-sync", "s", "-i", "github", "-m", "Issue").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "nango_cli", "--json", "dev", "--no-forward", *PORTS_0],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=os.environ,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["ok"] is True and ready["event"] == "ready"
        assert ready["data"]["env"] == "dev"
        assert httpx.get(ready["data"]["inspector"]).status_code == 200
        assert run("fire", "--sync", "s", "-c", "c9", "--to-listener").returncode == 0
        webhook = json.loads(proc.stdout.readline())
        assert webhook["event"] == "webhook"
        assert webhook["data"]["signature"]["verdict"] == "valid"
        assert webhook["data"]["connection_id"] == "c9"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
