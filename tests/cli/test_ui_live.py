"""The inspector's live feed and what its page shows, in a real headless Chromium: a
burst posted the moment the page loads, and one during a reconnect, each appear once,
in order, with the count; negatives look like tests; API calls are the webhook's own;
Copy as curl goes where a replay would; the fire form shows the chosen kind's fields."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx

from nango_cli.protocol import serialization, signatures
from nango_cli.support.paths import Directories
from tests.conftest import KEY, jdata

BURST = 6
TRIALS = 20


def _webhook(connection: str) -> tuple[bytes, dict[str, str]]:
    body = serialization.serialize(
        {
            "from": "nango",
            "type": "sync",
            "connectionId": connection,
            "providerConfigKey": "g",
            "syncName": "live",
            "model": "M",
            "success": True,
            "modifiedAfter": "2026-11-01T00:00:00.000Z",
            "responseResults": {"added": 1, "updated": 0, "deleted": 0},
        }
    )
    return body, signatures.signature_headers(KEY, body)


@contextlib.contextmanager
def _inspector(store: Path, port: int = 0) -> Iterator[object]:
    from nango_cli.app import settings
    from nango_cli.testing import running_inspector

    # The settings a replay from the page would sign with: the defaults will do.
    with running_inspector(
        settings.load(store.parent / "no-config.toml"), store=store, port=port
    ) as ui:
        yield ui


def _shown(page: object) -> list[str]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined]
        "button.row", "rows => rows.map(r => r.dataset.id)"
    )


def _assert_once_in_order(page: object, ids: list[str], trial: object) -> None:
    """The page shows the newest webhooks, each once, newest first: the list's first
    page (100) and everything the feed brought after it; the count is the store's."""
    shown = _shown(page)
    assert shown == ids[::-1][: len(shown)], (trial, shown, ids)
    assert len(shown) >= min(len(ids), 100), (trial, len(shown))
    count = page.text_content("#count")  # type: ignore[attr-defined]
    assert count == f"{len(ids)} webhook(s) stored", (trial, count)


def test_a_burst_as_the_page_loads_and_one_during_a_reconnect_all_appear_once(
    home: Path, page
) -> None:
    """Before: in 4 of 5 trials a webhook posted right after the page loaded never
    appeared (the list and the feed each took their own "now"), and the count stayed
    at its load-time value."""
    from nango_cli.testing import running_listener

    store = home / "live.sqlite3"
    posted: list[str] = []  # connection ids, in the order the listener stored them
    with running_listener(signing_key=KEY, store=store) as listener:
        ui_stack = contextlib.ExitStack()
        ui = ui_stack.enter_context(_inspector(store))
        port = int(ui.url.rsplit(":", 1)[1].strip("/"))  # type: ignore[attr-defined]
        for trial in range(TRIALS):
            page.goto(ui.url)  # type: ignore[attr-defined]
            # no wait at all: the page is fetching its list and opening its feed
            for n in range(BURST):
                body, headers = _webhook(f"t{trial}-{n}")
                assert httpx.post(listener.url, content=body, headers=headers).status_code == 200
                posted.append(f"t{trial}-{n}")
            ids = [e.id for e in listener.wait_for(len(posted))]
            page.wait_for_function(  # type: ignore[attr-defined]
                "ids => ids.every(id => document.querySelector(`button.row[data-id='${id}']`))",
                arg=ids[-BURST:],
            )
            _assert_once_in_order(page, ids, trial)
        # A reconnect: the inspector goes away, a webhook arrives, it comes back.
        page.wait_for_selector("#live:text('live')")  # type: ignore[attr-defined]
        ui_stack.close()
        page.wait_for_selector("#live:text('reconnecting…')")  # type: ignore[attr-defined]
        body, headers = _webhook("during-the-reconnect")
        assert httpx.post(listener.url, content=body, headers=headers).status_code == 200
        ids = [e.id for e in listener.wait_for(len(posted) + 1)]
        with _inspector(store, port):
            page.wait_for_selector(  # type: ignore[attr-defined]
                "button.row:has-text('during-the-reconnect')", timeout=15_000
            )
            _assert_once_in_order(page, ids, "reconnect")
    assert page.errors == []  # type: ignore[attr-defined]


def test_ctrl_c_with_a_page_open_stops_the_inspector_at_once(home: Path) -> None:
    """Before: an open page's live feed held `ui` for aiohttp's 60 s shutdown grace."""
    import signal
    import threading

    from tests.listening import serving

    with serving("ui", "Inspector on") as ui:
        opened = threading.Event()

        def follow() -> None:
            try:
                with httpx.stream("GET", f"{ui.url.rstrip('/')}/api/events", timeout=90) as feed:
                    for _ in feed.iter_bytes():
                        opened.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=follow, daemon=True).start()
        assert opened.wait(10)
        ui.proc.send_signal(signal.SIGINT)
        code, _out, err = ui.finish(timeout=20)
    assert code == 130 and "Traceback" not in err


SECRET = "sk-ui-0123456789abcdef"


def _detail_of(page: object, webhook_id: str) -> None:
    """Wait until the detail pane shows `webhook_id` (a click loads it asynchronously)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "id => (document.querySelector('#detail h2')?.textContent || '').includes(id)",
        arg=webhook_id,
    )


def test_what_the_page_shows_is_each_webhooks_own(
    cli, home: Path, page, directories: Directories
) -> None:
    """Before: "API calls the handler made" listed calls made for later webhooks, and
    under a forgery the handler refused; a forgery showed as a red failure grouped into
    a "sync run"; Copy as curl of a received webhook pointed at a hard-coded
    http://127.0.0.1:3000/webhooks; the fire form showed every kind's fields at once."""
    from nango_cli.app import settings
    from nango_cli.testing import running_api, running_inspector, running_listener
    from tests.handlers.aiohttp_app import PyHandler

    db = directories.history_db
    assert cli("config", "set-key", KEY).exit_code == 0
    assert cli("config", "set-sync", "s", "-i", "g", "-m", "M").exit_code == 0
    with (
        running_api(secret_key=SECRET, store=db) as api,
        PyHandler(KEY, api.url, SECRET) as handler,
    ):
        assert cli("config", "set-url", handler.url).exit_code == 0
        first = jdata(cli("--json", "fire", "--sync", "s", "-c", "c1", "--added", "3").stdout)
        second = jdata(cli("--json", "fire", "--sync", "s", "-c", "c1", "--added", "1").stdout)
        forged = jdata(cli("--json", "fire", "--sync", "s", "-c", "c1", "--sign", "bad").stdout)
    with running_listener(signing_key=KEY, store=db) as listener:
        body, headers = _webhook("received-one")
        assert httpx.post(listener.url, content=body, headers=headers).status_code == 200
        received_id = listener.wait_for(1)[0].id
    with running_inspector(settings.load(directories.config_file), store=db) as ui:
        base = ui.url.rstrip("/")

        def detail(webhook_id: str) -> dict:
            return httpx.get(f"{base}/api/webhooks/{webhook_id}").json()

        # each webhook's API calls are those made while the handler handled it
        for fired in (first, second):
            (webhook,) = fired["webhooks"]
            since = json.loads(webhook["body"])["modifiedAfter"]
            calls = detail(webhook["id"])["api_calls"]
            assert calls, webhook["id"]
            assert {c["query"]["modified_after"][0] for c in calls} == {since}
            assert {c["connection_id"] for c in calls} == {"c1"}
        control, *forgeries = forged["webhooks"]
        assert forgeries and all(detail(f["id"])["api_calls"] == [] for f in forgeries)
        assert detail(control["id"])["api_calls"]  # the control was handled: it fetched

        page.goto(ui.url)  # type: ignore[attr-defined]
        page.wait_for_selector(f"button.row[data-id='{forgeries[0]['id']}']")  # type: ignore[attr-defined]
        negative = page.locator(f"button.row[data-id='{forgeries[0]['id']}']")  # type: ignore[attr-defined]
        assert negative.get_attribute("data-test") == "expected rejection"
        assert "negative test" in negative.text_content()
        assert negative.locator(".ok").text_content() == "rejected as expected (401)"
        grouped = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "li.run button.row", "rows => rows.map(r => r.dataset.id)"
        )
        assert not {f["id"] for f in forged["webhooks"]} & set(grouped)
        negative.click()
        _detail_of(page, forgeries[0]["id"])
        assert "API calls the handler made" not in page.text_content("#detail")  # type: ignore[attr-defined]

        # Copy as curl: where a replay would go, and what is typed
        page.click(f"button.row[data-id='{received_id}']")  # type: ignore[attr-defined]
        # the detail of the webhook clicked, not the one shown before (it has a #curl too)
        _detail_of(page, received_id)
        curl = page.text_content("#curl")  # type: ignore[attr-defined]
        assert curl.startswith(f"curl -X POST {handler.url} ") and "3000" not in curl
        page.fill("#replay-url", "http://127.0.0.1:4567/it's-here")  # type: ignore[attr-defined]
        typed = page.text_content("#curl")  # type: ignore[attr-defined]
        assert typed.startswith("curl -X POST 'http://127.0.0.1:4567/it'\\''s-here' -H ")

        # the fire form: the chosen kind's fields only
        page.click("button:text('Fire a webhook')")  # type: ignore[attr-defined]
        form = "#fire-form"
        assert page.is_visible(f"{form} input[name=added]")  # type: ignore[attr-defined]
        assert page.is_hidden(f"{form} select[name=operation]")  # type: ignore[attr-defined]
        page.select_option(f"{form} select[name=kind]", "auth")  # type: ignore[attr-defined]
        assert page.is_hidden(f"{form} input[name=added]")  # type: ignore[attr-defined]
        assert page.is_visible(f"{form} select[name=operation]")  # type: ignore[attr-defined]
        assert page.is_hidden(f"{form} textarea[name=payload]")  # type: ignore[attr-defined]
        page.select_option(f"{form} select[name=kind]", "forward")  # type: ignore[attr-defined]
        assert page.is_visible(f"{form} textarea[name=payload]")  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]
