"""A scenario file is untrusted input (it travels in pull requests and bug reports):
it reads nothing outside its folder, its expansion and counts are bounded, its state
URLs stay on this machine, and what it names reaches a terminal or Markdown as text.
Each test planted what a hostile file did before; each is now a file error (exit 2,
file:line:column) before anything is sent, beside a control that runs."""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nango_cli.support.paths import Directories
from tests.conftest import KEY, jdata
from tests.receiver import Receiver

SYNC = (
    "version: 1\nintegration: github\nsteps:\n  - name: first\n    sync: github-tickets\n"
    "    added: {Ticket: 1}\n"
)


@pytest.fixture
def keyed(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0


def _run(cli, path: Path, receiver: Receiver, *extra: str):
    return cli(
        "--json", "scenario", "run", str(path), "--url", receiver.url, "--api-port", "0", *extra
    )


def _file_error(result, path: Path) -> str:
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2 and error["kind"] == "usage", error
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", error["message"]), error["message"]
    return str(error["message"])


@pytest.mark.parametrize(
    "name",
    ["../secret.json", "/etc/passwd", "link-out.json", "fifo", "folder", "big.json"],
)
def test_a_body_file_is_a_regular_file_in_the_scenarios_folder(
    cli, keyed, tmp_path: Path, receiver: Receiver, name: str
) -> None:
    """Before: `body: FILE` read any readable file (../, absolute paths, links out of the
    folder, /proc/self/environ), sent it and stored it in history; a FIFO hung the run."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (tmp_path / "secret.json").write_text('{"private_key_id": "canary-1234"}')
    (folder / "link-out.json").symlink_to(tmp_path / "secret.json")
    os.mkfifo(folder / "fifo")
    (folder / "folder").mkdir()
    with open(folder / "big.json", "wb") as big:
        big.truncate(17 * 1024 * 1024)
    (folder / "ok.json").write_text('{"from": "nango", "type": "custom"}')
    path = folder / "s.yaml"
    path.write_text(f"version: 1\nsteps:\n  - body: ok.json\n  - body: {json.dumps(name)}\n")
    started = time.monotonic()
    result = _run(cli, path, receiver)
    message = _file_error(result, path)
    assert message.startswith(f"{path}:4:5: body file")
    assert time.monotonic() - started < 10  # the FIFO is not waited on
    assert receiver.requests == []  # refused before anything was sent
    assert "canary-1234" not in result.stdout
    # the control: a file beside the scenario is sent byte for byte
    path.write_text("version: 1\nsteps:\n  - body: ok.json\n")
    assert _run(cli, path, receiver).exit_code == 0
    assert receiver.requests[0].body == (folder / "ok.json").read_bytes()


def test_a_scenario_file_is_read_within_its_bound(cli, keyed, receiver: Receiver) -> None:
    """Before: /dev/zero (size 0 to stat) was read until MemoryError."""
    result = _run(cli, Path("/dev/zero"), receiver)
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2 and "larger than 8 MB" in error["message"]


def test_aliases_that_multiply_are_refused_while_reading(cli, tmp_path: Path) -> None:
    """Before: 486 bytes of aliases of aliases took 9-21 s and 0.7-0.9 GB."""
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("steps: [{wait: 1s, name: *a8}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    result = cli("--json", "scenario", "run", str(path), "--url", "http://127.0.0.1:9/")
    assert time.monotonic() - started < 5
    message = _file_error(result, path)
    assert "values once its aliases are expanded" in message
    # the control: a few aliases, as people use them, are fine
    from nango_cli.app import yaml_strict

    assert yaml_strict.load("base: &b {a: 1}\nx: *b\ny: *b\n") == {
        "base": {"a": 1},
        "x": {"a": 1},
        "y": {"a": 1},
    }


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("  - wait: 9999999h\n", "wait must be a duration from 0 to 1h"),
        ("  - wait: .inf\n", "wait must be a duration from 0 to 1h"),
        ("  - api_fault: {latency: 700s}\n", "latency is at most 600s"),
        ("  - sync: s\n    added: 1000001\n", "a count up to 1,000,000"),
        ("  - sync: s\n    added: {Ticket: 2000000}\n", "a count up to 1,000,000"),
        (
            "  - forward: {a: 1}\n    headers: {Transfer-Encoding: chunked}\n",
            "Transfer-Encoding describes one hop of a request",
        ),
    ],
    ids=["wait-hours", "wait-inf", "latency", "count", "count-by-model", "framing-header"],
)
def test_values_the_runner_cannot_take_are_file_errors(
    cli, keyed, tmp_path: Path, receiver: Receiver, step: str, expected: str
) -> None:
    """Before: each passed validation and crashed mid-run ("unexpected"), sent a request
    Node.js refuses (Transfer-Encoding beside Content-Length), or built a billion
    records in memory."""
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nintegration: github\nsteps:\n" + step)
    message = _file_error(_run(cli, path, receiver), path)
    assert expected in message
    assert receiver.requests == []


def test_fire_and_the_fixture_refuse_more_records_than_one_webhook_may_announce(
    cli, keyed, receiver: Receiver, tmp_path: Path
) -> None:
    """Before: `fire --added 1000000000` built every record in memory until MemoryError."""
    from nango_cli.errors import UsageError
    from nango_cli.testkit import NangoKit

    base = ["--json", "fire", "--sync", "s", "-i", "g", "-m", "M", "--url", receiver.url]
    result = cli(*base, "--added", "1000000000")
    assert result.exit_code == 2
    assert "at most 1,000,000 records" in json.loads(result.stdout)["error"]["message"]
    with NangoKit(tmp_path / "kit") as kit, pytest.raises(UsageError, match="at most 1,000,000"):
        kit.sync("s", model="M", added=600_000, updated=600_000)
    assert receiver.requests == []
    assert cli(*base, "--added", "2").exit_code == 0  # the control


def test_framing_headers_are_refused_in_fire_and_dropped_from_forwards(
    cli, keyed, receiver: Receiver, tmp_path: Path
) -> None:
    """Before: `fire -H 'Transfer-Encoding: chunked'` (and listen --external) copied it
    onto a request that also had Content-Length: a Node 20 app refused every one."""
    from nango_cli.protocol.bodies import forwardable_headers

    event = tmp_path / "event.json"
    event.write_text("{}")
    base = ["--json", "fire", "--forward", str(event), "-i", "g", "--url", receiver.url]
    for header in ("Transfer-Encoding: chunked", "Expect: 100-continue", "TE: trailers"):
        refused = cli(*base, "-H", header)
        assert refused.exit_code == 2, (header, refused.stdout)
        assert "describes one hop" in json.loads(refused.stdout)["error"]["message"]
    assert receiver.requests == []
    kept = forwardable_headers(
        [("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("X-GitHub-Event", "issues")]
    )
    assert kept == {"X-GitHub-Event": "issues"}
    assert cli(*base, "-H", "X-GitHub-Event: issues").exit_code == 0
    assert receiver.requests[0].headers.get("X-GitHub-Event") == "issues"


def test_a_reference_does_not_read_into_a_body_file(
    cli, keyed, tmp_path: Path, receiver: Receiver
) -> None:
    """Before: `${steps.creds.body.private_key_id}` carried one field of any JSON file
    into a URL or a webhook."""
    (tmp_path / "creds.json").write_text('{"private_key_id": "canary-5678"}')
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nintegration: github\nsteps:\n  - name: creds\n    body: creds.json\n"
        "  - sync: s\n    added: {Ticket: 1}\n    integration: ${steps.creds.body.private_key_id}\n"
    )
    message = _file_error(_run(cli, path, receiver), path)
    assert "reads into the bytes of body step 'creds'" in message
    assert receiver.requests == []


def test_a_reference_that_resolves_to_another_type_is_a_file_error(
    cli, keyed, tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nintegration: github\nsteps:\n  - name: connect\n    auth: creation\n"
        "  - name: typed\n    sync: s\n    added: {Ticket: 1}\n"
        "    modified_after: ${steps.connect.status}\n"
    )
    result = _run(cli, path, receiver)
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2, error
    assert error["message"].startswith(f"{path}:6:5: step 'typed', once its references")
    assert "modified_after must be text" in error["message"]
    assert len(receiver.requests) == 1  # the step before it; this one was not sent
    # a reference written where the file itself says a count goes is refused at once
    path.write_text(
        "version: 1\nintegration: github\nsteps:\n  - name: connect\n    auth: creation\n"
        "  - sync: s\n    added: ${steps.connect.connection}\n"
    )
    assert "added must be a count" in _file_error(_run(cli, path, receiver), path)


@contextmanager
def _state_server(status: int, body: bytes, location: str = "") -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_state_url_stays_on_this_machine(cli, keyed, tmp_path: Path, receiver) -> None:
    """Before: `state:` reached any host (internal services' ids ended in the report,
    JUnit and job summary)."""
    from nango_cli.app.scenarios.state import state_url_problem

    path = tmp_path / "s.yaml"
    path.write_text(SYNC + "    expect: {state: 'http://10.0.0.8/state/{connection}/{model}'}\n")
    message = _file_error(_run(cli, path, receiver), path)
    assert "host '10.0.0.8' is not this machine: pass --allow-state-host 10.0.0.8" in message
    assert receiver.requests == []
    assert state_url_problem("http://10.0.0.8/s", frozenset({"10.0.0.8"})) is None
    assert state_url_problem("http://[::1]:3000/s", frozenset()) is None
    assert state_url_problem("http://localhost:3000/s", frozenset()) is None
    assert "not an http(s) URL" in str(state_url_problem("file:///etc/passwd", frozenset()))


def test_a_state_answer_is_bounded_and_a_redirect_is_reported(
    cli, keyed, tmp_path: Path, receiver
) -> None:
    """Before: a 150 MB answer was read whole; a 302 read as "did not answer"."""
    path = tmp_path / "s.yaml"
    huge = b"[" + b'"x",' * (5 * 1024 * 1024) + b'"x"]'
    with _state_server(302, b"", "http://127.0.0.1:1/elsewhere") as redirecting:
        path.write_text(SYNC + f"    expect: {{state: '{redirecting}/s'}}\n")
        moved = _run(cli, path, receiver)
    with _state_server(200, huge) as large:
        path.write_text(SYNC + f"    expect: {{state: '{large}/s'}}\n")
        bounded = _run(cli, path, receiver)
    texts = [json.dumps(json.loads(r.stdout)) for r in (moved, bounded)]
    assert moved.exit_code == bounded.exit_code == 9
    assert "answered 302, a redirect to http://127.0.0.1:1/elsewhere" in texts[0]
    assert "larger than 16 MB" in texts[1]


def test_names_reach_a_terminal_and_markdown_as_text(
    cli, keyed, tmp_path: Path, receiver: Receiver
) -> None:
    """Before: a newline in a step name printed a line of its own choosing; the GitHub
    summary rendered images and links from names and kept bidi and C1 characters."""
    from nango_cli.app.scenarios.reports import Case, Suite, summary_markdown

    path = tmp_path / "s.yaml"
    name = "ok\\n  ✓ all 40 steps passed"
    path.write_text(
        "version: 1\nintegration: github\nsteps:\n"
        f'  - name: "{name}"\n    sync: s\n    added: {{Ticket: 1}}\n'
        "    expect: {status: '500'}\n"
    )
    shown = cli("scenario", "run", str(path), "--url", receiver.url, "--api-port", "0")
    assert shown.exit_code == 9
    assert not any(line.strip().startswith("✓ all 40") for line in shown.stdout.splitlines())
    assert "ok\\x0a" in shown.stdout  # the newline, shown as an escape
    markdown = summary_markdown(
        [
            Suite(
                "s",
                [Case("![x](http://evil/p.png) [a](http://evil) \u202eab\x9b", "fail", "", "")],
                1.0,
            )
        ],
        "t",
    )
    assert "![x](" not in markdown and "[a](" not in markdown
    assert "\\!\\[x\\]\\(http://evil/p.png\\)" in markdown
    assert "\u202e" not in markdown and "\x9b" not in markdown


def test_outputs_refuse_a_link_another_user_planted(
    cli, keyed, tmp_path: Path, receiver: Receiver
) -> None:
    """Before: --junit, record -o, sidecars and init -o wrote through any link, another
    user's in a sticky directory included, without saying so."""
    path = tmp_path / "s.yaml"
    path.write_text(SYNC)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = tmp_path / "report.xml"
    planted.symlink_to(victim)
    os.lchown(planted, 4242, 4242)  # the tests run as root in CI; a link of another user
    refused = _run(cli, path, receiver, "--junit", str(planted))
    assert refused.exit_code == 3 or refused.exit_code == 2, refused.stdout
    assert "link owned by another user" in refused.stdout + refused.stderr
    assert victim.read_text() == "keep me"
    own = tmp_path / "own.xml"
    own.symlink_to(tmp_path / "target.xml")
    followed = cli("scenario", "run", str(path), "--url", receiver.url, "--api-port", "0",
                   "--junit", str(own))  # fmt: skip
    assert followed.exit_code == 0
    assert f"{own} is a link: wrote {tmp_path / 'target.xml'}" in followed.stderr
    assert (tmp_path / "target.xml").read_text().startswith("<?xml")
    starter = tmp_path / "init.yaml"
    starter.symlink_to(victim)
    again = cli("--json", "scenario", "init", "-o", str(starter))
    assert again.exit_code == 2 and victim.read_text() == "keep me"


def test_record_keeps_received_text_as_text(cli, keyed, tmp_path: Path, receiver: Receiver) -> None:
    """Before: `${…}` inside a received webhook became a live reference in the recorded
    scenario, and a forward's provider was rewritten to the integration."""
    payload = {"title": "${steps.x.body.secret}", "n": 1}
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    base = ["fire", "--forward", str(event), "-i", "github-app", "-c", "c1", "--url", receiver.url]
    assert cli(*base, "--provider", "github").exit_code == 0
    out = tmp_path / "rec.yaml"
    assert cli("--json", "scenario", "record", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "$${steps.x.body.secret}" in text and "provider: github" in text
    ran = cli("--json", "scenario", "run", str(out), "--url", receiver.url, "--api-port", "0")
    assert ran.exit_code == 0, ran.stdout
    sent = json.loads(receiver.requests[-1].body)
    assert sent["payload"] == payload and sent["from"] == "github"
    assert jdata(ran.stdout)["scenarios"][0]["ok"] is True


def test_the_inspectors_feed_reads_the_store_off_the_event_loop(
    cli,
    keyed,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    directories: Directories,
) -> None:
    """Before: each open page's feed read SQLite and built rows on the event loop that,
    under `dev`, the API and the listener share (a prune with 5 pages open stalled the
    API 2-3 s; 100 pages, 18-30 s). And after a clear the feed replayed the history
    from row 0 though the page reloads its list."""
    import httpx

    from nango_cli.app import settings
    from nango_cli.servers.inspector import views
    from nango_cli.testing import running_inspector

    threads: list[str] = []
    original = views.feed_step

    def recording(store, last, seen):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return original(store, last, seen)

    monkeypatch.setattr(views, "feed_step", recording)
    fired = ["fire", "--sync", "s", "-i", "g", "-m", "M", "--url", "http://127.0.0.1:9/"]
    for _ in range(2):
        cli(*fired, "--retry-policy", "none")
    time.sleep(1.2)
    cli(*fired, "--retry-policy", "none")  # the one that stays after the prune
    with running_inspector(
        settings.load(directories.config_file), store=directories.history_db
    ) as ui:
        loop_thread = ui.thread._thread.name
        with httpx.stream("GET", f"{ui.url.rstrip('/')}/api/events?after=0", timeout=10) as feed:
            lines = feed.iter_lines()
            events: list[str] = []
            while sum(1 for e in events if e == "event: webhook") < 3:
                events.append(next(lines, "END"))
                assert events[-1] != "END", events
            assert cli("history", "prune", "--older-than", "1s").exit_code == 0
            while "event: reset" not in events:
                events.append(next(lines))
            after_reset: list[str] = []
            while sum(1 for e in after_reset if e == ": keep-alive") < 2:
                after_reset.append(next(lines))
    assert threads and loop_thread not in threads
    # the page reloads its list on `reset`: the feed does not replay what is left
    assert "event: webhook" not in after_reset
