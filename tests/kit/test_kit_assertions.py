"""The pytest kit's assertions (`nango.assert_fetched`, `nango.assert_holds`) judge a
real handler as `scenario run` does, with its messages: an aiohttp handler that calls
the kit's API, correct and with one bug planted at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from nango_cli.testkit import NangoKit
from tests.handlers.aiohttp_app import Bugs, PyHandler


def _held(handler: PyHandler, model: str = "S") -> list[str]:
    held = handler.state.records.get("test-connection-id", {})
    return [key.split(":", 1)[1] for key in held if key.startswith(f"{model}:")]


def _run(tmp_path: Path, bugs: Bugs) -> tuple[NangoKit, PyHandler]:
    nango = NangoKit(tmp_path / "kit", rootdir=tmp_path)
    handler = PyHandler(nango.signing_key, nango.api.url, nango.secret_key, bugs)
    handler.__enter__()
    # Each webhook made (and what it announces written) just before it is sent, as a
    # sync run and its webhook follow each other.
    for counts in ({"added": 5}, {"updated": 1, "deleted": 2}):
        webhook = nango.sync("s", model="S", **counts)
        assert nango.send(webhook, handler.url).delivered
        if bugs == Bugs(page_limit=2):
            nango.assert_fetched(webhook, within=2)
    return nango, handler


def test_a_correct_handler_passes_both(tmp_path: Path) -> None:
    nango, handler = _run(tmp_path, Bugs(page_limit=2))
    try:
        nango.assert_holds(_held(handler), "S")
    finally:
        handler.__exit__(None, None, None)
        nango.close()


def test_a_handler_that_reads_one_page_fails_assert_fetched_with_the_runners_words(
    tmp_path: Path,
) -> None:
    nango = NangoKit(tmp_path / "kit", rootdir=tmp_path)
    with PyHandler(
        nango.signing_key, nango.api.url, nango.secret_key, Bugs(first_page_only=True)
    ) as handler:
        webhook = nango.sync("s", model="S", added=5)
        assert nango.send(webhook, handler.url).delivered
        with pytest.raises(AssertionError, match="next_cursor still set"):
            nango.assert_fetched(webhook, within=1)
        with pytest.raises(AssertionError, match="a page not read"):
            nango.assert_holds(_held(handler), "S")
    nango.close()


def test_a_handler_that_ignores_deletions_fails_assert_holds(tmp_path: Path) -> None:
    nango, handler = _run(tmp_path, Bugs(ignore_deletions=True, page_limit=2))
    try:
        with pytest.raises(AssertionError, match="deletions not applied"):
            nango.assert_holds(_held(handler), "S")
    finally:
        handler.__exit__(None, None, None)
        nango.close()
