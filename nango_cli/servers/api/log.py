"""The API stand-in's request log: what a handler asked and what it was answered.

Requests are answered first, then written in batches by one worker thread on a
database connection of its own, so neither a slow disk nor another writer holding
SQLite's lock ever holds up an answer. A secret a client put in the query string
(`?api_key=…`, `?token=…`: a common mistake) is redacted before the request is
printed or stored, as is any value equal to the environment's secret key.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nango_cli.storage.api_log import ApiRequest, record_requests
from nango_cli.storage.database import Database

REDACTED = "…redacted"
# Query parameters that carry credentials, compared lowercased without - and _.
_SECRET_PARAMS = frozenset(
    {
        "apikey",
        "key",
        "token",
        "accesstoken",
        "authtoken",
        "secret",
        "secretkey",
        "clientsecret",
        "password",
        "auth",
        "authorization",
        "bearer",
        "privatekey",
        "signature",
        "sig",
        "nangosecretkey",
    }
)
_FLUSH_INTERVAL = 0.05


def redact_query(query: dict[str, list[str]], secret: str | None) -> dict[str, list[str]]:
    """The query with credentials replaced (by name, and any value equal to `secret`)."""
    out = {}
    for name, values in query.items():
        normalized = name.lower().replace("-", "").replace("_", "")
        if normalized in _SECRET_PARAMS:
            out[name] = [REDACTED for _ in values]
        elif secret and any(secret in value for value in values):
            out[name] = [value.replace(secret, REDACTED) for value in values]
        else:
            out[name] = values
    return out


class RequestLog:
    def __init__(self, path: Path, on_failure: Any = None) -> None:
        self.path = path
        self.on_failure = on_failure or (lambda message: None)
        self._pending: list[ApiRequest] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-log")
        self._db: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def add(self, entry: ApiRequest) -> None:
        self._pending.append(entry)

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever())

    async def flush(self) -> None:
        """Write what is pending (in the writer thread) and wait for it, and for any
        batch being written already: the thread takes one batch at a time, in order."""
        batch, self._pending = self._pending, []
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, batch)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_db)
        self._executor.shutdown(wait=True)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL)
            if self._pending:
                # Shielded: `close` cancels this task, and a cancelled wait would cancel
                # the batch's write before the writer thread took it: the batch taken
                # off `_pending` would be lost (the last calls a handler made, when the
                # server stops right after them).
                await asyncio.shield(self.flush())

    def _write(self, batch: list[ApiRequest]) -> None:
        if not batch:
            return
        try:
            if self._db is None:
                self._db = Database(self.path)
            record_requests(self._db, batch)
            self._failing = False
        except Exception as exc:  # the log is best effort; the answers were given
            if not self._failing:
                self._failing = True
                self.on_failure(f"cannot log API requests ({type(exc).__name__}): {exc}")

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
