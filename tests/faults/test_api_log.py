"""The API's request log loses nothing when the server stops: the batch the periodic
flush took is written even when the stop cancels that flush."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from nango_cli.servers.api import log as log_module
from nango_cli.storage import api_log
from nango_cli.storage.api_log import ApiRequest
from nango_cli.storage.webhooks import Store


def _entry(n: int) -> ApiRequest:
    return ApiRequest(
        id=f"r{n}",
        created_at=f"2026-12-06T00:00:0{n}.000Z",
        method="GET",
        path="/records",
        query={},
        status=200,
        connection_id="c1",
        provider_config_key="s",
        model="S",
        record_count=1,
        next_cursor=None,
        error_code=None,
        body=None,
        duration_ms=1.0,
        fault=None,
    )


def test_a_batch_taken_by_the_periodic_flush_survives_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: close() cancelled the periodic flush while its batch waited for the
    writer thread (busy with the batch before), and that batch was never written: in
    CI the last calls a handler made went missing from the inspector."""
    path = tmp_path / "h.sqlite3"
    Store(path).close()
    real = log_module.record_requests
    writing = threading.Event()

    def slow(db: object, batch: list[ApiRequest]) -> None:
        writing.set()
        time.sleep(0.3)  # the writer thread is busy: the next batch queues behind it
        real(db, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(log_module, "record_requests", slow)

    async def main() -> None:
        log = log_module.RequestLog(path)
        log.start()
        log.add(_entry(1))
        # A reader settles the log (`history requests`, a scenario's judge): the
        # writer thread is busy with the first batch.
        settling = asyncio.create_task(log.flush())
        while not writing.is_set():
            await asyncio.sleep(0.01)
        log.add(_entry(2))
        # The periodic flush takes the second batch; it waits behind the first.
        await asyncio.sleep(log_module._FLUSH_INTERVAL * 3)
        await log.close()  # the server stops
        await settling

    asyncio.run(main())
    with Store(path) as store:
        assert sorted(r.id for r in api_log.api_requests(store, limit=None)) == ["r1", "r2"]
