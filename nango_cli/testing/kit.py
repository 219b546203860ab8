"""The test kit: Nango in the user's own test suite. `NangoKit` is what the `nango`
pytest fixture gives (nango_cli/testing/plugin.py); without pytest it is a `with` block.

    def test_sync_fetches_every_page(nango, client):
        webhook = nango.sync("github-issues", added=250)
        client.post("/webhooks", content=webhook.body, headers=webhook.headers)
        assert [r.path for r in nango.api.requests("/records")]

Each webhook is signed with the kit's own signing key, and what it announces is made
true for the API stand-in (records, the connection, an action's result), as `fire`
does; the handler under test fetches them from `nango.api.url` with
`nango.secret_key`. State lives in a directory of its own (pytest's `tmp_path`).
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

from nango_cli.errors import UsageError
from nango_cli.protocol import signed_webhooks, vocabulary
from nango_cli.protocol.bodies import default_counts
from nango_cli.protocol.signed_webhooks import SignedWebhook

__all__ = ["NangoKit"]

DEFAULT_CONNECTION = "test-connection-id"
DEFAULT_INTEGRATION = "test-integration"


class NangoKit:
    """Signed webhooks for a handler's tests, and the Nango API it calls back."""

    def __init__(
        self,
        directory: str | Path,
        *,
        project: str | Path | None = None,
        rootdir: str | Path | None = None,
        signing_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.signing_key = signing_key or f"nango-hooks-test-signing-{secrets.token_hex(12)}"
        self.secret_key = secret_key or f"nango-hooks-test-secret-{secrets.token_hex(12)}"
        self.connection_id = DEFAULT_CONNECTION
        self._project_path = project
        self._rootdir = Path(rootdir) if rootdir else None
        self._project: Any = None
        self._store: Any = None
        self._api: Any = None
        # What each sync webhook announced (by its bytes), for `assert_fetched`.
        self._announced: dict[bytes, list[Any]] = {}
        self._stack = contextlib.ExitStack()

    # ------------------------------------------------------------ what the kit knows

    @property
    def project(self) -> Any:
        """The Nango project (its syncs and models), found as the CLI finds it."""
        if self._project is None:
            from nango_cli.app import project

            if self._project_path:
                self._project = project.discover(str(self._project_path))
            else:
                self._project = project.discover(None, cwd=self._rootdir)
        return self._project

    @property
    def integration(self) -> str:
        """The default providerConfigKey: the project's first sync's, else a test one."""
        first = next(iter(self.project.syncs.values()), None)
        return str(first.integration) if first else DEFAULT_INTEGRATION

    @property
    def store(self) -> Any:
        if self._store is None:
            from nango_cli.storage.webhooks import Store

            self.directory.mkdir(parents=True, exist_ok=True)
            self._store = self._stack.enter_context(Store(self.directory / "history.sqlite3"))
        return self._store

    @property
    def api(self) -> Any:
        """The API stand-in (`nango_cli.testing.RunningApi`), started on first use on a
        free loopback port: `.url`, `.secret_key`, `.requests(path)`, `.fault()`,
        `.short_pages()`."""
        if self._api is None:
            from nango_cli.testing import running_api

            self._api = self._stack.enter_context(
                running_api(secret_key=self.secret_key, store=self.store)
            )
        return self._api

    # ------------------------------------------------------------ webhooks

    def sync(
        self,
        name: str | None = None,
        *,
        model: str | None = None,
        connection_id: str | None = None,
        integration: str | None = None,
        added: int | None = None,
        updated: int | None = None,
        deleted: int | None = None,
        initial: bool = False,
        failed: bool = False,
        modified_after: str | None = None,
        sign: str = "both",
    ) -> SignedWebhook:
        """A sync webhook for one model (Nango sends one per model); its records are
        added, updated and deleted for the API first (no count given: one added, as
        `fire` does; otherwise a count not given is 0). `failed=True`: the sync error
        webhook. The sync's integration and models come from the project."""
        known = self.project.syncs
        name = name or next(iter(known), None)
        if not name:
            raise UsageError("nango.sync() needs the sync's name (the project has no syncs)")
        info = known.get(name)
        models = list(info.models) if info else []
        if model is None and not models:
            raise UsageError(
                f"sync {name!r} is not in the project: pass model=",
                hint="or point the nango_project ini option at the project",
            )
        chosen = model or models[0]
        added, updated, deleted = default_counts(added, updated, deleted)
        webhook = signed_webhooks.sync_webhook(
            sync=name,
            model=models if failed and model is None else chosen,
            connection_id=connection_id or self.connection_id,
            integration=integration or (info.integration if info else self.integration),
            signing_key=self.signing_key,
            added=added,
            updated=updated,
            deleted=deleted,
            sync_type="INITIAL" if initial else "INCREMENTAL",
            modified_after=modified_after,
            failed=failed,
            sign=sign,
        )
        return self._announce(webhook, sign)

    def auth(
        self,
        operation: str = "creation",
        *,
        connection_id: str | None = None,
        integration: str | None = None,
        failed: bool = False,
        end_user_id: str | None = None,
        tags: dict[str, str] | None = None,
        sign: str = "both",
    ) -> SignedWebhook:
        """An auth webhook; the connection is created or deleted for the API first."""
        webhook = signed_webhooks.auth_webhook(
            operation,
            connection_id=connection_id or self.connection_id,
            integration=integration or self.integration,
            signing_key=self.signing_key,
            failed=failed,
            end_user_id=end_user_id,
            tags=tags,
            sign=sign,
        )
        return self._announce(webhook, sign)

    def forward(
        self,
        payload: Any,
        *,
        connection_id: str | None = None,
        integration: str | None = None,
        headers: dict[str, str] | None = None,
        sign: str = "both",
    ) -> SignedWebhook:
        """An external API's webhook as Nango forwards it."""
        return signed_webhooks.forward_webhook(
            payload,
            integration=integration or self.integration,
            signing_key=self.signing_key,
            connection_id=connection_id or self.connection_id,
            headers=headers,
            sign=sign,
        )

    def async_action(
        self,
        result: Any = None,
        *,
        connection_id: str | None = None,
        integration: str | None = None,
        action_id: str | None = None,
        sign: str = "both",
    ) -> SignedWebhook:
        """An async action's completion; `result` is what GET /action/{id} then serves."""
        webhook = signed_webhooks.async_action_webhook(
            connection_id=connection_id or self.connection_id,
            integration=integration or self.integration,
            signing_key=self.signing_key,
            action_id=action_id,
            sign=sign,
        )
        return self._announce(webhook, sign, result)

    def _announce(self, webhook: SignedWebhook, sign: str, result: Any = None) -> SignedWebhook:
        """Make true what the webhook announces (a forgery announces nothing: Nango never
        sends one)."""
        if sign != "both":
            return webhook
        from nango_cli.app.fire import apply_announced, project_generators
        from nango_cli.app.scenarios.judge import Announced
        from nango_cli.delivery.outbox import PlannedWebhook
        from nango_cli.support.timefmt import now_timestamp

        planned = PlannedWebhook.for_body(webhook.json(), webhook.body, dict(webhook.headers))
        found = self.project
        made = now_timestamp()
        applied = apply_announced(
            self.store,
            [planned],
            lambda models: project_generators(found, models),
            result=result,
        )
        self._announced[webhook.body] = [Announced.of(a, made) for a in applied]
        return webhook

    # ------------------------------------------------------------ judging the handler

    def assert_fetched(
        self, webhook: SignedWebhook, *, all_pages: bool = True, within: float = 5.0
    ) -> None:
        """The handler read every record `webhook` announced from the API (with
        `all_pages`, to the last page), within `within` seconds: judged as `scenario
        run`'s `fetched` is, and failing with its message ("stopped after 1 page(s)
        … with next_cursor still set: page until next_cursor is null")."""
        from nango_cli.app.scenarios.judge import fetched
        from nango_cli.app.scenarios.model import Fetched

        announced = self._announced.get(webhook.body)
        if not announced:
            raise UsageError(
                "assert_fetched takes a sync webhook this kit made (nango.sync())",
                hint="a forgery or a sync error announces no records",
            )
        for one in announced:
            outcome = fetched(self.store, Fetched(all_pages, within), one, "test")
            if not outcome.ok:
                cause = f" ({outcome.cause})" if outcome.cause else ""
                raise AssertionError(f"{outcome.expected}: {outcome.happened}{cause}")

    def assert_holds(self, ids: Any, model: str, connection_id: str | None = None) -> None:
        """The handler's record ids for a model equal the live ones the API holds:
        judged as `scenario run`'s `state` is ("misses 2 live record(s): a page not
        read?", "still holds 3 … deletions not applied?")."""
        from nango_cli.app.scenarios.state import compare_ids

        held = {str(i["id"]) if isinstance(i, dict) and "id" in i else str(i) for i in ids}
        live = {str(r["id"]) for r in self.records(model, connection_id)}
        ok, happened, _why = compare_ids(held, live)
        if not ok:
            raise AssertionError(f"the handler's {model} records: {happened}")

    # ------------------------------------------------------------ reading, sending

    def records(
        self, model: str, connection_id: str | None = None, live: bool = True
    ) -> list[dict[str, Any]]:
        """The records the API holds for a model (oldest change first), each with its
        `_nango_metadata` as Nango serves it; `live=False` includes deleted ones."""
        from nango_cli.storage.record_pages import list_records

        found = list_records(
            self.store,
            connection_id or self.connection_id,
            model,
            include_deleted=not live,
            limit=None,
        )
        return [{**r.data, "_nango_metadata": r.to_dict()["_nango_metadata"]} for r in found][::-1]

    def send(
        self,
        webhook: SignedWebhook,
        url: str,
        *,
        policy: str = "docs",
        retries: int | None = None,
        timeout: float = vocabulary.TIMEOUT_S,
    ) -> Any:
        """POST the webhook to `url` (a real server) as Nango does, with its retry policy;
        the DeliveryResult (`.delivered`, `.attempts`)."""
        from nango_cli.delivery.deliver import deliver

        return deliver(webhook, url, policy=policy, retries=retries, timeout=timeout)

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        self._stack.close()
        self._api = None
        self._store = None

    def __enter__(self) -> NangoKit:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
