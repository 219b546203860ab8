"""`nango-hooks ui` in a real headless Chromium (Debian's `chromium`, driven by Playwright
with `executable_path`: no browser download). .ci/run installs both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nango_cli.protocol import serialization, signatures
from tests.conftest import KEY, jdata
from tests.listening import Listening, listening, serving
from tests.receiver import Receiver

HOSTILE = {
    "from": "nango",
    "type": "sync",
    "syncName": '<img src=x onerror="window.__pwned=1">',
    "model": "\u202egnp.exe",
    "connectionId": "<script>window.__pwned=2</script>",
    "providerConfigKey": "g",
    "success": True,
    "modifiedAfter": "2026-11-01T00:00:00.000Z",
    "responseResults": {"added": 1, "updated": 0, "deleted": 0},
    "note": "</pre><b id=bold>bold?</b>",
}


@pytest.fixture
def inspector(cli, configured: Receiver) -> Iterator[tuple[Listening, Listening]]:
    """`listen --ui`: a listener and the inspector in one process."""
    with listening("--ui", "--ui-port", "0", env={"NANGO_HOOKS_SIGNING_KEY": KEY}) as lst:
        text = lst.err_path.read_text()
        ui_url = text.split("Inspector on ")[1].split()[0]
        yield lst, Listening(lst.proc, ui_url, lst.err_path)


def _post(url: str, body: dict, key: str = KEY) -> None:
    data = serialization.serialize(body)
    assert (
        httpx.post(url, content=data, headers=signatures.signature_headers(key, data)).status_code
        == 200
    )


def test_the_page_loads_lists_and_groups_a_sync_run(
    cli, configured: Receiver, inspector, page
) -> None:
    _listener, ui = inspector
    fired = cli("--json", "fire", "--sync", "s", "-m", "A", "-m", "B", "-m", "C")
    ids = [w["id"] for w in jdata(fired.stdout)["webhooks"]]
    page.goto(ui.url)
    assert page.title() == "nango-hooks inspector"
    page.wait_for_selector("button.row")
    shown = page.eval_on_selector_all("button.row", "rows => rows.map(r => r.dataset.id)")
    assert sorted(shown) == sorted(ids)
    group = page.text_content("li.run .run-title")
    assert "sync run: s" in group and "3 webhooks" in group
    assert page.errors == []


def test_a_received_webhook_appears_live(cli, inspector, page) -> None:
    listener, ui = inspector
    page.goto(ui.url)
    page.wait_for_selector("#live:text('live')")
    _post(listener.url, {**HOSTILE, "syncName": "live-one", "connectionId": "c-live", "note": ""})
    page.wait_for_selector("button.row:has-text('live-one')", timeout=10_000)
    row = page.text_content("button.row:has-text('live-one')")
    assert "received" in row and "c-live" in row


def test_a_hostile_payload_is_text_and_runs_nothing(cli, inspector, page) -> None:
    listener, ui = inspector
    _post(listener.url, HOSTILE)
    page.goto(ui.url)
    page.click("button.row")
    page.wait_for_selector("#detail h2")
    assert page.evaluate("window.__pwned") is None
    assert page.query_selector("#detail img") is None and page.query_selector("#bold") is None
    raw = page.text_content("#detail pre")
    assert '<img src=x onerror=\\"window.__pwned=1\\">' in raw and "</pre><b id=bold>" in raw
    row = page.text_content("button.row")
    assert "\u202e" in row  # shown as the text it is (the page's font shows the control)
    assert page.errors == []


def test_replay_and_edit_resign_send_reach_a_receiver(
    cli, configured: Receiver, inspector, page
) -> None:
    _listener, ui = inspector
    fired = jdata(cli("--json", "fire", "--sync", "s").stdout)["webhooks"][0]
    with Receiver() as other:
        page.goto(ui.url)
        page.click(f"button.row[data-id='{fired['id']}']")
        page.fill("#replay-url", other.url)
        page.click("button:text('Replay')")
        page.wait_for_selector("#action-result:has-text('delivered')")
        assert other.requests[0].body == fired["body"].encode()
        page.click("summary:text('Edit the body, re-sign and send')")
        edited = json.dumps({**json.loads(fired["body"]), "model": "Edited"}, indent=1)
        page.fill("#edit-body", edited)
        page.click("button:text('Re-sign and send')")
        page.wait_for_selector("#action-result:has-text('delivered')")
        sent = other.requests[1]
    assert sent.body == edited.encode()  # byte for byte as typed
    assert sent.headers["X-Nango-Hmac-Sha256"] == signatures.hmac_signature(KEY, sent.body)
    rows = jdata(cli("--json", "history", "-n", "5").stdout)
    assert {r["replay_of"] for r in rows if r["replay_of"]} == {fired["id"]}


def test_fire_from_the_form_and_the_check_report(
    cli, configured: Receiver, inspector, page
) -> None:
    _listener, ui = inspector
    assert cli("check", configured.url, "--only", "sync", "--api-port", "0").exit_code == 0
    page.goto(ui.url)
    page.click("button:text('Fire a webhook')")
    page.select_option("#fire-form select[name=kind]", "auth")
    page.fill("#fire-form input[name=integration]", "github")
    page.fill("#fire-form input[name=connection]", "from-the-form")
    page.click("#fire-send")
    page.wait_for_selector("#fire-result:has-text('delivered')")
    body = json.loads(configured.requests[-1].body)
    assert (body["type"], body["connectionId"]) == ("auth", "from-the-form")
    page.click("#fire-cancel")
    page.click("button:text('Check report')")
    page.wait_for_selector("#check-body table")
    assert "sync" in page.text_content("#check-body") and "pass" in page.text_content("#check-body")


def test_keyboard_moves_through_rows_and_opens_one(
    cli, configured: Receiver, inspector, page
) -> None:
    _listener, ui = inspector
    cli("fire", "--sync", "s")
    cli("fire", "--auth", "creation", "-i", "g")
    page.goto(ui.url)
    page.wait_for_selector("button.row")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail h2")
    assert page.text_content("#detail h2").startswith("sync s/")  # the second row, older
    for name in ("Replay", "Copy as curl", "Re-sign and send"):
        assert page.get_by_role("button", name=name, include_hidden=True).count() == 1


def test_changes_need_the_token_and_the_origin_and_a_foreign_host_is_refused(
    cli, configured: Receiver, inspector
) -> None:
    _listener, ui = inspector
    page_html = httpx.get(ui.url).text
    token = page_html.split('name="nango-hooks-token" content="')[1].split('"')[0]
    origin = ui.url.rstrip("/")
    form = {"kind": "auth", "integration": "g"}
    cross = httpx.post(
        f"{ui.url}api/fire",
        json=form,
        headers={"Origin": "http://evil.example", "X-Nango-Hooks-Token": token},
    )
    no_token = httpx.post(f"{ui.url}api/fire", json=form, headers={"Origin": origin})
    no_origin = httpx.post(f"{ui.url}api/fire", json=form, headers={"X-Nango-Hooks-Token": token})
    assert [r.status_code for r in (cross, no_token, no_origin)] == [403, 403, 403]
    assert configured.requests == []
    ok = httpx.post(
        f"{ui.url}api/fire", json=form, headers={"Origin": origin, "X-Nango-Hooks-Token": token}
    )
    assert ok.status_code == 200 and len(configured.requests) == 1
    rebound = httpx.get(f"{ui.url}api/webhooks", headers={"Host": "evil.example:80"})
    assert rebound.status_code == 421
    page = httpx.get(ui.url)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]


def test_a_cross_origin_page_cannot_fire(cli, configured: Receiver, inspector, page) -> None:
    """What a malicious page in the same browser can do: nothing that changes state."""
    _listener, ui = inspector
    with serving("listen", "Listening on") as elsewhere:  # any other origin will do
        page.goto(elsewhere.url)
        status = page.evaluate(
            """async (url) => {
                try {
                    const r = await fetch(url + 'api/fire', {method: 'POST',
                        headers: {'Content-Type': 'text/plain'}, body: '{"kind": "auth"}'});
                    return r.status;
                } catch (e) { return 'blocked'; }
            }""",
            ui.url,
        )
    assert status in (403, "blocked")
    assert configured.requests == []


def test_ten_thousand_webhooks_page_and_load_older(cli, home: Path, inspector, page) -> None:
    from nango_cli.delivery.history_rows import WebhookRecord, new_id
    from nango_cli.storage.webhooks import Store

    with Store(home / "data" / "history.sqlite3") as store:
        store.record_webhooks(
            [
                WebhookRecord(
                    id=new_id(),
                    created_at=f"2026-11-0{1 + i // 2000}T00:00:{i % 60:02d}.{i % 1000:03d}Z",
                    direction="sent",
                    env="dev",
                    type="sync",
                    sync_name="bulk",
                    model="M",
                    connection_id=f"c{i}",
                    provider_config_key="g",
                    targets=["http://127.0.0.1:9/"],
                    headers={},
                    body=b'{"type":"sync"}',
                    status="delivered",
                )
                for i in range(10_000)
            ]
        )
    _listener, ui = inspector
    page.goto(ui.url)
    page.wait_for_selector("#count:has-text('10000 webhook(s) stored')")
    assert page.locator("button.row").count() == 100
    page.click("#older")
    page.wait_for_function("() => document.querySelectorAll('button.row').length === 200")
    ids = page.eval_on_selector_all("button.row", "rows => rows.map(r => r.dataset.id)")
    assert len(set(ids)) == 200


def test_a_resend_stands_alone_and_the_tools_own_bodies_get_no_deprecation_warning(
    cli, configured: Receiver, inspector
) -> None:
    """Before: a replayed sync webhook was grouped with its original as "sync run · 2
    webhooks", and the detail of a webhook nango-hooks built warned "syncType is
    deprecated" although Nango itself sends it."""
    listener, ui = inspector
    (fired,) = jdata(cli("--json", "fire", "--sync", "s", "-m", "A").stdout)["webhooks"]
    replayed = cli("--json", "replay", fired["id"])
    assert replayed.exit_code == 0, replayed.stdout
    theirs_body = {**HOSTILE, "syncName": "s", "connectionId": "c9", "syncType": "INCREMENTAL"}
    _post(listener.url, theirs_body)
    rows = httpx.get(f"{ui.url.rstrip('/')}/api/webhooks").json()["webhooks"]
    by_id = {r["id"]: r for r in rows}
    (resend,) = [r for r in rows if r.get("replay_of") == fired["id"]]
    assert by_id[fired["id"]]["run"] and resend["run"] is None
    own = httpx.get(f"{ui.url.rstrip('/')}/api/webhooks/{fired['id']}").json()
    assert not [n for n in own["schema"] if "deprecated" in n["text"]]
    (received,) = [r for r in rows if r["direction"] == "received"]
    theirs = httpx.get(f"{ui.url.rstrip('/')}/api/webhooks/{received['id']}").json()
    assert "syncType is deprecated" in [n["text"] for n in theirs["schema"]]


def test_the_count_is_of_the_rows_the_list_holds_when_a_webhook_lands_meanwhile(
    tmp_path: Path,
) -> None:
    """Found by a fresh-clone CI run ("73 webhook(s) stored" for 72): the page's list was
    read up to the newest row, its count a moment later; a webhook stored between the
    two was counted, then added again by the live feed. The write is made to land at
    exactly that moment here."""
    from nango_cli.delivery.history_rows import WebhookRecord, new_id
    from nango_cli.servers.inspector import views
    from nango_cli.storage.webhooks import Store

    def webhook() -> WebhookRecord:
        return WebhookRecord(
            id=new_id(),
            created_at="2026-11-01T00:00:00.000Z",
            direction="received",
            env="dev",
            type="sync",
            headers={},
            body=b'{"type":"sync"}',
            status="received",
        )

    with Store(tmp_path / "h.sqlite3") as store, Store(tmp_path / "h.sqlite3") as other:
        store.record_webhooks([webhook() for _ in range(3)])
        reads = 0
        by_row = store.by_row

        def then_one_lands(*args: object, **kwargs: object) -> object:
            nonlocal reads
            found = by_row(*args, **kwargs)  # type: ignore[arg-type]
            reads += 1
            if reads == 1:  # `latest` has just been read: another process stores one
                other.record_webhook(webhook())
            return found

        store.by_row = then_one_lands  # type: ignore[method-assign]
        shown = views.page(store, views.Filters())
        assert (len(shown["webhooks"]), shown["total"]) == (3, 3)
        fed = views.newer(store, shown["latest"])
        assert len(fed) == 1 and shown["total"] + len(fed) == store.count() == 4
