"""`nango-hooks scenario`: a whole lifecycle run against a real handler (aiohttp, in
tests/handlers/), which passes it when correct and fails exactly the expectation each
bug breaks; JUnit and GitHub summary outputs parsed; record -> run round trips;
invalid files named with line and column."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from nango_cli.support.paths import Directories
from tests.conftest import KEY, jdata, jpayload
from tests.handlers.aiohttp_app import Bugs, PyHandler

SECRET = "sk-scenario-0123456789abcdef"

LIFECYCLE = """\
version: 1
name: lifecycle
integration: github
sync: github-tickets
steps:
  - name: connect
    auth: creation
    expect: {status: 2xx}
  - name: first sync
    sync: github-tickets
    initial: true
    added: {Ticket: 7}
    expect:
      status: 2xx
      fetched: {all_pages: true, within: 2s}
      state: STATE/{connection}/{model}
  - name: retried
    duplicate: previous
    expect: {status: 2xx}
  - name: changes
    sync: github-tickets
    added: {Ticket: 2}
    updated: {Ticket: 2}
    deleted: {Ticket: 3}
    expect:
      fetched: {all_pages: true, within: 2s}
      state: STATE/{connection}/{model}
  - name: short pages
    api_fault: {short_pages: true}
  - name: a sync in short pages
    sync: github-tickets
    added: {Ticket: 5}
    expect:
      fetched: {all_pages: true, within: 2s}
      state: STATE/{connection}/{model}
  - name: API down once
    api_fault: {status: 500, times: 1, short_pages: false}
  - name: fetch fails
    sync: github-tickets
    added: {Ticket: 1}
    expect: {status: 5xx}
  - name: Nango retries it
    sync: github-tickets
    added: {Ticket: 1}
    modified_after: ${previous.body.modifiedAfter}
    connection: ${steps.connect.connection}
    expect:
      status: 2xx
      state: STATE/{connection}/{model}
  - name: refresh failed
    auth: refresh
    failed: true
  - name: disconnect
    auth: deletion
    expect:
      state: STATE/{connection}/{model}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api_port(cli) -> int:
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("config", "set-key", "--secret", SECRET).exit_code == 0
    return _free_port()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "lifecycle.yaml"


def _write(path: Path, handler: PyHandler) -> Path:
    base = handler.url.rsplit("/", 1)[0]
    path.write_text(LIFECYCLE.replace("STATE", f"{base}/state"))
    return path


def _run(cli, path: Path, handler: PyHandler, port: int, *extra: str):
    return cli(
        "--json",
        "scenario",
        "run",
        str(path),
        "--url",
        handler.url,
        "--api-port",
        str(port),
        *extra,
    )


def _failed(document: dict) -> set[tuple[str, str]]:
    """(step, expectation) pairs that did not hold."""
    data = document["data"] if "data" in document else document["error"]
    scenarios = (document.get("data") or {}).get("scenarios") or data.get("scenarios")
    return {
        (step["name"], outcome["name"])
        for scenario in scenarios
        for step in scenario["steps"]
        for outcome in step["expectations"]
        if outcome["ok"] is not True
    }


def test_a_correct_handler_passes_the_whole_lifecycle(
    cli, api_port: int, scenario_file: Path
) -> None:
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET) as handler:
        result = _run(cli, _write(scenario_file, handler), handler, api_port)
        assert handler.state.errors == ["GET /records answered 500"]  # the fault, once
    assert result.exit_code == 0, result.stdout
    (run,) = jpayload(result.stdout)["scenarios"]
    assert run["ok"] is True and run["connection"].startswith("lifecycle-")
    steps = {s["name"]: s for s in run["steps"]}
    assert all(s["verdict"] == "pass" for s in steps.values())
    first = {o["name"]: o for o in steps["first sync"]["expectations"]}
    assert first["fetched"]["happened"] == "7 of 7 changed records in 4 page(s)"
    assert first["state"]["happened"] == "holds exactly the 7 live record(s)"
    changes = {o["name"]: o for o in steps["changes"]["expectations"]}
    assert changes["state"]["happened"] == "holds exactly the 6 live record(s)"
    # the duplicate resent the first sync's bytes, answered 2xx, changed nothing
    assert steps["retried"]["webhook_ids"] != steps["first sync"]["webhook_ids"]
    gone = {o["name"]: o for o in steps["disconnect"]["expectations"]}
    assert gone["state"]["happened"] == "holds exactly the 0 live record(s)"


@pytest.mark.parametrize(
    ("bugs", "key", "broken", "named"),
    [
        (
            Bugs(ignore_deletions=True),
            KEY,
            {
                ("changes", "state"),
                ("a sync in short pages", "state"),
                ("Nango retries it", "state"),
            },
            "deletions not applied",
        ),
        (
            Bugs(first_page_only=True),
            KEY,
            {
                ("first sync", "fetched"),
                ("first sync", "state"),
                ("changes", "fetched"),
                ("changes", "state"),
                ("a sync in short pages", "fetched"),
                ("a sync in short pages", "state"),
                ("Nango retries it", "state"),
            },
            "next_cursor still set",
        ),
        (
            Bugs(stop_on_short_page=True),
            KEY,
            {
                ("a sync in short pages", "fetched"),
                ("a sync in short pages", "state"),
                ("Nango retries it", "state"),
            },
            "next_cursor still set",
        ),
        (
            Bugs(never_fetch=True),
            KEY,
            {
                ("first sync", "fetched"),
                ("first sync", "state"),
                ("changes", "fetched"),
                ("changes", "state"),
                ("a sync in short pages", "fetched"),
                ("a sync in short pages", "state"),
                ("fetch fails", "status"),
                ("Nango retries it", "state"),
            },
            "no GET /records for connection",
        ),
        (
            Bugs(fail_duplicates=True),
            KEY,
            # Nango's retry of the failed webhook is a duplicate too
            {("retried", "status"), ("Nango retries it", "status"), ("Nango retries it", "state")},
            "500",
        ),
    ],
    ids=["ignores-deletions", "first-page-only", "short-page-is-last", "never-fetches", "dupes"],
)
def test_each_bug_fails_exactly_what_it_breaks(
    cli, api_port: int, scenario_file: Path, bugs: Bugs, key: str, broken: set, named: str
) -> None:
    with PyHandler(key, f"http://127.0.0.1:{api_port}", SECRET, bugs) as handler:
        result = _run(cli, _write(scenario_file, handler), handler, api_port)
    document = json.loads(result.stdout)
    assert result.exit_code == 9 and document["error"]["kind"] == "check"
    assert _failed(document) == broken
    texts = json.dumps(document)
    assert named in texts


def test_a_handler_verifying_with_another_key_is_named(
    cli, api_port: int, scenario_file: Path
) -> None:
    with PyHandler("whsec-of-another-env", f"http://127.0.0.1:{api_port}", SECRET) as handler:
        result = _run(cli, _write(scenario_file, handler), handler, api_port)
    document = json.loads(result.stdout)
    failed = _failed(document)
    assert result.exit_code == 9
    # every webhook refused: every status, and so every fetch and state after a sync
    assert {name for _step, name in failed} == {"status", "fetched", "state"}
    (run,) = document["data"]["scenarios"]
    first = run["steps"][0]["expectations"][0]
    assert first["happened"].startswith("401 in ")


def test_junit_and_the_github_summary(
    cli, api_port: int, scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier content\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET, Bugs(ignore_deletions=True)) as h:
        result = _run(cli, _write(scenario_file, h), h, api_port, "--junit", str(junit))
    assert result.exit_code == 9
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "3"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "lifecycle" and suite.get("tests") == "11"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases)[:2] == ["connect", "first sync"]
    failure = cases["changes"].find("failure")
    assert failure is not None and "deletions not applied" in (failure.text or "")
    assert "expected: " in (failure.text or "") and cases["connect"].find("failure") is None
    assert oct(junit.stat().st_mode & 0o777) == "0o600"
    text = summary.read_text()
    assert text.startswith("earlier content\n")  # appended, nothing lost
    assert "| ❌ | changes |" in text and "| ✅ | connect |" in text


def test_summary_md_writes_the_same_summary_for_any_ci(
    cli, api_port: int, scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    """--summary-md: what GitHub's job summary gets, in a file GitLab or a PR comment can
    use; the same bytes as the GitHub summary of the same run."""
    github = tmp_path / "github.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(github))
    written = tmp_path / "summary.md"
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET, Bugs(ignore_deletions=True)) as h:
        result = _run(cli, _write(scenario_file, h), h, api_port, "--summary-md", str(written))
    assert result.exit_code == 9
    text = written.read_text()
    assert text == github.read_text()
    assert text.startswith("### nango-hooks scenario run")
    assert "| ❌ | changes |" in text and "deletions not applied" in text
    assert oct(written.stat().st_mode & 0o777) == "0o600"


def test_a_summary_stays_under_githubs_limit_and_says_what_it_left_out() -> None:
    from nango_cli.app.scenarios.reports import SUMMARY_LIMIT, Case, Suite, summary_markdown

    cases = [Case(f"step {i}", "fail", "2xx", "x" * 2000) for i in range(5000)]
    text = summary_markdown([Suite("big", cases)], "nango-hooks scenario run")
    assert len(text.encode()) <= SUMMARY_LIMIT
    shown = text.count("| ❌ | step ")
    assert 1000 < shown < 5000
    assert f"{5000 - shown} more step(s) not shown" in text
    small = summary_markdown([Suite("small", cases[:3])], "t")
    assert "not shown" not in small and small.count("| ❌ |") == 3


def test_record_then_run_round_trips(
    cli, api_port: int, tmp_path: Path, directories: Directories
) -> None:
    from nango_cli.testing import running_api

    assert (
        cli("config", "set-sync", "github-tickets", "-i", "github", "-m", "Ticket").exit_code == 0
    )
    custom = tmp_path / "custom.json"
    custom.write_bytes(b'{"from":"nango","type":"custom_event","connectionId":"c-1",  "x": 1}')
    with (
        running_api(secret_key=SECRET, store=directories.history_db) as api,
        PyHandler(KEY, api.url, SECRET) as handler,
    ):
        assert cli("config", "set-url", handler.url).exit_code == 0
        for args in (
            ["--auth", "creation", "-i", "github", "-c", "c-1"],
            ["--sync", "github-tickets", "-c", "c-1", "--added", "3"],
            ["--body", str(custom)],
        ):
            assert cli("fire", *args).exit_code == 0
    out = tmp_path / "recorded" / "bug-1234.yaml"
    out.parent.mkdir()
    recorded = cli("--json", "scenario", "record", "--since", "1h", "-o", str(out))
    assert recorded.exit_code == 0, recorded.stdout
    data = jdata(recorded.stdout)
    assert data["steps"] == 3 and data["sidecars"] == ["bug-1234.step3.body"]
    assert (out.parent / "bug-1234.step3.body").read_bytes() == custom.read_bytes()
    text = out.read_text()
    assert "auth: creation" in text and "sync: github-tickets" in text
    # the contract, not the answers seen: those are comments
    assert "Ticket: 3" in text and "status:" not in text and "# answered 200" in text
    # and it runs, against the same handler
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET) as handler:
        again = cli(
            "--json", "scenario", "run", str(out), "--url", handler.url, "--api-port", str(api_port)
        )
        sent = [b.get("type") for b in handler.state.seen]
    assert again.exit_code == 0, again.stdout
    assert sent == ["auth", "sync", "custom_event"]
    # nothing is overwritten without --force
    twice = cli("--json", "scenario", "record", "--since", "1h", "-o", str(out))
    assert twice.exit_code == 2 and "exists" in json.loads(twice.stdout)["error"]["message"]


def test_init_writes_a_starter_that_runs(cli, api_port: int, tmp_path: Path) -> None:
    assert (
        cli("config", "set-sync", "github-tickets", "-i", "github", "-m", "Ticket").exit_code == 0
    )
    starter = tmp_path / "lifecycle.yaml"
    assert cli("scenario", "init", "-o", str(starter)).exit_code == 0
    assert "sync: github-tickets" in starter.read_text()
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET) as handler:
        result = cli(
            "--json",
            "scenario",
            "run",
            str(starter),
            "--url",
            handler.url,
            "--api-port",
            str(api_port),
        )
    assert result.exit_code == 0, result.stdout
    assert cli("scenario", "init", "-o", str(starter)).exit_code == 2  # exists


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "version: 1\nsteps:\n  - sync: s\n    expect: {statsu: 2xx}\n",
            ":4:14:",
            "did you mean 'status'?",
        ),
        (
            "version: 1\nsteps:\n  - auth: creation\n    auth: deletion\n",
            ":4:5:",
            "duplicate key 'auth'",
        ),
        ("version: 1\nsteps:\n  - sync: s\n    added: many\n", ":4:5:", "added must be a count"),
        ("version: 1\nsteps:\n  - sync: s\n    auth: creation\n", ":3:5:", "exactly one of"),
        ("version: 1\nsteps:\n  - duplicate: nope\n", ":3:5:", "is not an earlier step"),
        ("version: 1\nstep:\n  - sync: s\n", ":2:1:", "did you mean 'steps'?"),
        (
            "version: 1\nsteps:\n  - sync: s\n    modified_after: ${steps.later.body.x}\n",
            ":3:5:",
            "no earlier step named 'later'",
        ),
        ('{"version": 1,\n "steps": [{"wait": "soon"}]}', ":2:13:", "wait must be a duration"),
    ],
)
def test_an_invalid_file_is_named_with_line_and_column(
    cli, tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / ("bad.json" if text.startswith("{") else "bad.yaml")
    path.write_text(text)
    result = cli("--json", "scenario", "run", str(path), "--url", "http://127.0.0.1:9/")
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2, error
    assert error["message"].startswith(f"{path}{where}"), error
    assert message in error["message"] + (error.get("hint") or "")


def test_yaml_is_read_strictly(tmp_path: Path) -> None:
    from nango_cli.app.scenarios.files import parse

    scenario = parse(
        "version: 1\nname: no\nsteps:\n  - sync: s\n    modified_after: 2026-01-01\n", "x.yaml"
    )
    assert scenario.name == "no"  # `no` stays a string
    assert scenario.steps[0].options["modified_after"] == "2026-01-01"  # not a date


def test_the_schema_describes_every_step_kind(cli) -> None:
    result = cli("scenario", "schema")
    schema = json.loads(result.stdout)
    kinds = [next(iter(s["required"])) for s in schema["properties"]["steps"]["items"]["oneOf"]]
    assert kinds == [
        "sync",
        "auth",
        "forward",
        "async_action",
        "body",
        "duplicate",
        "call",
        "api_fault",
        "wait",
    ]
    assert schema["required"] == ["version", "steps"]


def test_within_body_contains_latency_faults_and_json_files(
    cli, api_port: int, tmp_path: Path
) -> None:
    path = tmp_path / "timing.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "name": "timing",
                "integration": "github",
                "steps": [
                    {"auth": "creation", "expect": {"body_contains": '"ok": true'}},
                    {"api_fault": {"latency": "400ms", "times": 1}},
                    {
                        "name": "slow fetch",
                        "sync": "tickets",
                        "added": {"Ticket": 1},
                        "expect": {"within": "100ms", "fetched": True},
                    },
                    {
                        "name": "fast again",
                        "sync": "tickets",
                        "added": {"Ticket": 1},
                        "expect": {"within": "5s", "body_contains": "nope"},
                    },
                ],
            }
        )
    )
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET) as handler:
        result = _run(cli, path, handler, api_port)
    document = json.loads(result.stdout)
    assert result.exit_code == 9
    assert _failed(document) == {("slow fetch", "within"), ("fast again", "body_contains")}
    (run,) = document["data"]["scenarios"]
    slow = {o["name"]: o for o in run["steps"][2]["expectations"]}
    assert slow["within"]["happened"].startswith("slowest 0.4")
    assert slow["fetched"]["ok"] is True  # late, but fetched
    fast = {o["name"]: o for o in run["steps"][3]["expectations"]}
    assert fast["body_contains"]["happened"] == "an answer without it: '{\"ok\": true}'"


# ---------------------------------------------------------------- no false verdicts

OTHER_CONNECTION = """\
version: 1
name: two connections
integration: github
steps:
  - name: first connection
    sync: github-tickets
    added: {Ticket: 2}
  - name: second connection adds
    sync: github-tickets
    connection: second-connection
    added: {Ticket: 3}
    expect:
      fetched: {all_pages: true, within: 1s}
      state: STATE/{connection}/{model}
  - name: second connection deletes
    sync: github-tickets
    connection: second-connection
    deleted: {Ticket: 1}
    expect:
      fetched: {all_pages: true, within: 1s}
      state: STATE/{connection}/{model}
"""


def test_state_is_judged_on_the_steps_own_connection(
    cli, api_port: int, scenario_file: Path
) -> None:
    """Before: a step with its own `connection:` had its state judged on the scenario's
    connection, so a handler that kept the second connection's deleted record passed."""
    with PyHandler(
        KEY, f"http://127.0.0.1:{api_port}", SECRET, Bugs(ignore_deletions=True)
    ) as handler:
        base = handler.url.rsplit("/", 1)[0]
        scenario_file.write_text(OTHER_CONNECTION.replace("STATE", f"{base}/state"))
        result = _run(cli, scenario_file, handler, api_port)
    document = json.loads(result.stdout)
    assert result.exit_code == 9
    assert _failed(document) == {("second connection deletes", "state")}
    (scenario,) = document["error"].get("scenarios") or jpayload(result.stdout)["scenarios"]
    step = next(s for s in scenario["steps"] if s["name"] == "second connection deletes")
    state = next(o for o in step["expectations"] if o["name"] == "state")
    assert "/state/second-connection/Ticket" in state["expected"]
    assert "deletions not applied" in state["happened"]


def test_fetched_on_a_duplicate_and_a_cursor_resume_are_judged_rightly(
    cli, api_port: int, scenario_file: Path
) -> None:
    """Before: `fetched` on a duplicate always failed ("the step announced no records"),
    and a handler resuming from its last record's cursor (Nango's advice) failed with
    "no GET /records" although the log held its reads."""
    text = """\
version: 1
name: resume
integration: github
steps:
  - name: first
    sync: github-tickets
    added: {Ticket: 4}
    expect: {fetched: {all_pages: true, within: 1s}}
  - name: more
    sync: github-tickets
    added: {Ticket: 3}
    updated: {Ticket: 1}
    expect: {fetched: {all_pages: true, within: 1s}, state: 'STATE/{connection}/{model}'}
  - name: again
    duplicate: more
    expect: {fetched: {all_pages: true, within: 1s}, state: 'STATE/{connection}/{model}'}
"""
    with PyHandler(
        KEY, f"http://127.0.0.1:{api_port}", SECRET, Bugs(resume_from_cursor=True)
    ) as handler:
        base = handler.url.rsplit("/", 1)[0]
        scenario_file.write_text(text.replace("STATE", f"{base}/state"))
        result = _run(cli, scenario_file, handler, api_port)
        cursors = [c for c in handler.state.cursors.values()]
    assert result.exit_code == 0, result.stdout
    assert cursors  # it did resume from a record's cursor
    (run,) = jpayload(result.stdout)["scenarios"]
    steps = {s["name"]: {o["name"]: o for o in s["expectations"]} for s in run["steps"]}
    assert steps["more"]["fetched"]["happened"].startswith("4 of 4 changed records")
    assert steps["again"]["fetched"]["happened"].startswith("4 of 4 changed records")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nsteps:\n  - duplicate: previous\n", "no step before this one sent"),
        (
            "version: 1\nsteps:\n  - wait: 1s\n  - sync: s\n"
            "    connection: ${previous.connection}\n",
            "${previous.connection}: no step before this one sent a webhook",
        ),
        (
            "version: 1\nsteps:\n  - name: pause\n    wait: 1s\n  - duplicate: pause\n",
            "step 'pause' sends no webhook to resend",
        ),
        (
            "version: 1\nsteps:\n  - name: pause\n    wait: 1s\n  - sync: s\n"
            "    connection: ${steps.pause.connection}\n",
            "step 'pause' sends no webhook to refer to",
        ),
    ],
    ids=["duplicate-first", "previous-with-nothing-before", "duplicate-a-wait", "refer-to-a-wait"],
)
def test_a_file_that_would_crash_is_refused_before_anything_is_sent(
    cli, tmp_path: Path, receiver, text: str, message: str
) -> None:
    """Before: these passed validation, then ended in "unexpected ValueError" mid-run."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli("--json", "scenario", "run", str(path), "--url", receiver.url, "--api-port", "0")
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2 and error["kind"] == "usage", error
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", error["message"]), error
    assert message in error["message"]
    assert receiver.requests == []


def test_a_set_that_makes_a_count_a_string_is_sent_as_fire_sends_it(
    cli, api_port: int, scenario_file: Path, receiver
) -> None:
    """Before: the runner re-read the counts from the body and crashed ("unexpected")."""
    scenario_file.write_text(
        "version: 1\nintegration: github\nsteps:\n  - sync: github-tickets\n"
        "    added: {Ticket: 1}\n    set: {responseResults.added: 'three'}\n"
    )
    result = cli(
        "--json", "scenario", "run", str(scenario_file), "--url", receiver.url, "--api-port", "0"
    )
    assert result.exit_code == 0, result.stdout
    (request,) = receiver.requests
    assert json.loads(request.body)["responseResults"]["added"] == "three"
    fired = cli(
        "--json", "fire", "--sync", "github-tickets", "-i", "github", "-m", "Ticket",
        "--url", receiver.url, "--set", 'responseResults.added="three"',
    )  # fmt: skip
    assert fired.exit_code == 0, fired.stdout
    fired_body = json.loads(receiver.requests[-1].body)
    assert fired_body["responseResults"] == json.loads(request.body)["responseResults"]


def test_one_rule_for_default_counts(cli, receiver, scenario_file: Path, tmp_path: Path) -> None:
    """Before: `--deleted 2` also announced `added: 1` in fire and scenarios, not in the
    pytest fixture; `nango.sync()` announced nothing where `fire --sync` announced one."""
    from nango_cli.testkit import NangoKit

    assert cli("config", "set-key", KEY).exit_code == 0
    base = ["--sync", "github-tickets", "-i", "github", "-m", "Ticket", "--url", receiver.url]
    assert cli("fire", *base, "--deleted", "2").exit_code == 0
    assert cli("fire", *base).exit_code == 0
    scenario_file.write_text(
        "version: 1\nintegration: github\nsteps:\n  - sync: github-tickets\n"
        "    deleted: {Ticket: 2}\n  - sync: github-tickets\n    models: [Ticket]\n"
    )
    result = cli(
        "--json", "scenario", "run", str(scenario_file), "--url", receiver.url, "--api-port", "0"
    )
    assert result.exit_code == 0, result.stdout
    counts = [json.loads(r.body)["responseResults"] for r in receiver.requests]
    with NangoKit(tmp_path / "kit") as kit:
        counts.append(json.loads(kit.sync("s", model="Ticket", deleted=2).body)["responseResults"])
        counts.append(json.loads(kit.sync("s", model="Ticket").body)["responseResults"])
    deleted_two = {"added": 0, "updated": 0, "deleted": 2}
    none_given = {"added": 1, "updated": 0, "deleted": 0}
    assert counts == [deleted_two, none_given] * 3


def test_a_model_the_sync_does_not_have_is_refused_as_fire_refuses_it(
    cli, tmp_path: Path, receiver
) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    assert (
        cli("config", "set-sync", "github-tickets", "-i", "github", "-m", "Ticket").exit_code == 0
    )
    path = tmp_path / "typo.yaml"
    path.write_text("version: 1\nsteps:\n  - sync: github-tickets\n    added: {Tickets: 2}\n")
    result = cli("--json", "scenario", "run", str(path), "--url", receiver.url, "--api-port", "0")
    fired = cli(
        "--json", "fire", "--sync", "github-tickets", "--added", "Tickets=2", "--url", receiver.url
    )
    scenario_error, fire_error = (json.loads(r.stdout)["error"] for r in (result, fired))
    assert result.exit_code == fired.exit_code == 2, (scenario_error, fire_error)
    assert (
        "count given for model 'Tickets', which this sync does not send"
        in (scenario_error["message"])
    )
    assert fire_error["message"] == "count given for model 'Tickets', which this sync does not send"
    assert receiver.requests == []


def test_auth_creation_carries_the_same_end_user_as_check(cli, tmp_path: Path, receiver) -> None:
    from nango_cli.app.scenarios.steps import CONNECT_END_USER

    path = tmp_path / "connect.yaml"
    path.write_text(
        "version: 1\nintegration: github\nsteps:\n  - auth: creation\n"
        "  - auth: creation\n    end_user: false\n"
    )
    assert cli("config", "set-key", KEY).exit_code == 0
    ran = cli("scenario", "run", str(path), "--url", receiver.url, "--api-port", "0")
    assert ran.exit_code == 0, ran.stderr
    checked = cli("--json", "check", receiver.url, "--only", "auth-creation", "--api-port", "0")
    assert checked.exit_code == 0, checked.stdout
    users = [json.loads(r.body).get("endUser") for r in receiver.requests]
    expected = {**CONNECT_END_USER, "tags": {}}
    assert users == [expected, None, expected]


RECORDED_RUN = """\
version: 1
name: to record
integration: github
steps:
  - name: connect
    auth: creation
  - name: first sync
    sync: github-tickets
    added: {Ticket: 5}
    expect: {fetched: {all_pages: true, within: 2s}}
  - name: forged
    sync: github-tickets
    added: {Ticket: 1}
    sign: bad
  - api_fault: {status: 500, times: 1}
  - name: while the API fails
    sync: github-tickets
    added: {Ticket: 2}
    retry: true
    expect: {fetched: {all_pages: true, within: 2s}}
"""


def test_a_recording_reproduces_what_the_handler_was_judged_on(
    cli, api_port: int, tmp_path: Path
) -> None:
    """Before: record turned an observed 500 into `expect: {status: '500'}`, dropped the
    forgeries and the API faults, recorded no `fetched`, and without --connection swept
    every run of the window into one file that failed against the handler that made it."""
    source = tmp_path / "run.yaml"
    source.write_text(RECORDED_RUN)
    host = f"http://127.0.0.1:{api_port}"
    with PyHandler(KEY, host, SECRET) as handler:
        # an earlier run on another connection, which the recording must leave out
        assert _run(cli, source, handler, api_port).exit_code == 0
        assert _run(cli, source, handler, api_port).exit_code == 0
    out = tmp_path / "recorded.yaml"
    recorded = cli("--json", "scenario", "record", "-o", str(out))
    assert recorded.exit_code == 0, recorded.stdout
    text = out.read_text()
    assert jdata(recorded.stdout)["steps"] == 5, text
    assert "sign: bad" in text and "status: 500" in text and "times: 1" in text
    assert "retry: true" in text and "all_pages: true" in text
    assert "# answered 401" in text and "expect:\n      status" not in text
    verdicts = {}
    for name, bugs in (("correct", Bugs()), ("no-verify", Bugs(no_verify=True))):
        with PyHandler(KEY, host, SECRET, bugs) as handler:
            done = _run(cli, out, handler, api_port)
        verdicts[name] = (done.exit_code, _failed(json.loads(done.stdout)))
    with PyHandler(KEY, host, SECRET, Bugs(never_fetch=True)) as handler:
        done = _run(cli, out, handler, api_port)
    verdicts["never-fetch"] = (done.exit_code, _failed(json.loads(done.stdout)))
    assert verdicts["correct"] == (0, set())
    assert verdicts["no-verify"] == (9, {("3. sync", "forgery")})
    assert verdicts["never-fetch"][0] == 9
    assert {e for _, e in verdicts["never-fetch"][1]} == {"fetched"}


def test_a_duplicate_of_an_unsigned_forgery_stays_unsigned(
    cli, api_port: int, scenario_file: Path
) -> None:
    """The duplicate goes through the replay path with the bytes and headers as sent:
    an unsigned forgery is not signed on the way (which would make it genuine)."""
    scenario_file.write_text(
        "version: 1\nintegration: github\nsteps:\n  - sync: github-tickets\n"
        "    added: {Ticket: 1}\n  - sync: github-tickets\n    added: {Ticket: 1}\n"
        "    sign: none\n  - duplicate: previous\n"
    )
    with PyHandler(KEY, f"http://127.0.0.1:{api_port}", SECRET) as handler:
        result = _run(cli, scenario_file, handler, api_port)
    assert result.exit_code == 0, result.stdout
    (run,) = jpayload(result.stdout)["scenarios"]
    forged, again = run["steps"][1], run["steps"][2]
    assert [forged["verdict"], again["verdict"]] == ["pass", "pass"]
    rows = {r["id"]: r for r in jdata(cli("--json", "history", "-n", "10").stdout)}
    (resent,) = again["webhook_ids"]
    assert rows[resent]["outcome"] == "rejected as expected (401)"
    shown = jdata(cli("--json", "history", "show", resent).stdout)
    assert not {k.lower() for k in shown["headers"]} & {"x-nango-hmac-sha256", "x-nango-signature"}
