"""`nango-hooks mcp`: nango-hooks as tools for coding agents, over MCP (stdio), on the
official MCP Python SDK (the optional `mcp` extra, imported by this module only).

Each tool runs the CLI command of the same name (`python -m nango_cli --json …`, in a
process of its own) and answers its JSON document, so an agent sees exactly what a
script sees, and this server's stdout carries nothing but JSON-RPC. A document with
`ok: false` becomes an MCP tool error with the CLI's message and hint.

Tool names are `nango_hooks_<verb>` and stay: renaming one breaks users' allow-lists.
Read-only tools are always listed; the ones that send webhooks or change state are
listed only with `--allow-write` (absent, not merely refused).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from nango_cli import __version__
from nango_cli.support.paths import Directories

RunCli = Callable[[list[str], bytes | None, Path], dict[str, Any]]
# `check` and `scenario run` wait on the handler: a long run is still an answer.
CLI_TIMEOUT_S = 900.0
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

# What each webhook type is, in a few lines (docs/protocol.md has the whole of it).
PROTOCOL_NOTES = {
    "sync": "Sent after a sync run, one per model: connectionId, providerConfigKey, "
    "syncName, model, responseResults {added, updated, deleted}, modifiedAfter, success; "
    "checkpoints may be absent, null or {from: null} (2026). A failure (success: false, "
    "error) names all models joined with commas. The handler verifies "
    "X-Nango-Hmac-Sha256 (HMAC-SHA256 of the raw body with the webhook signing key), "
    "answers 2xx, then fetches GET /records with modified_after = modifiedAfter (or a "
    "cursor) and pages until next_cursor is null.",
    "auth": "Sent on connection creation (success or failure; endUser from a Connect "
    "session), override, refresh failure, refresh recovery (success: true after a "
    "failure, Nango #7202) and deletion: connectionId, providerConfigKey, authMode, "
    "provider, environment, operation, success, error when it failed.",
    "forward": "An external API's webhook passed on: from (the provider), type forward, "
    "providerConfigKey, connectionId, payload (the external body); an event that "
    "matches no connection arrives as the external body itself, unwrapped.",
    "async_action": "An async action finished: connectionId, providerConfigKey, payload "
    "{id, statusUrl}; its result is at GET /action/{id}.",
}


def run_cli(args: list[str], stdin: bytes | None, config: Path) -> dict[str, Any]:
    """The CLI's JSON document for `nango-hooks --json --config CONFIG ARGS` (its own
    process, on the config file the server was given)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nango_cli", "--json", "--config", str(config), *args],
            input=stdin or b"",
            capture_output=True,
            timeout=CLI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"nango-hooks {args[0]} took longer than {CLI_TIMEOUT_S:g}s") from None
    try:
        document = json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolError(
            f"nango-hooks {args[0]} exited {done.returncode}: {said[-1] if said else ''}"
        ) from None
    if not isinstance(document, dict):
        raise ToolError(f"nango-hooks {args[0]} answered no JSON document")
    return document


def _answer(document: dict[str, Any]) -> dict[str, Any]:
    if document.get("ok") is False:
        error = document.get("error") or {}
        hint = error.get("hint")
        raise ToolError(str(error.get("message")) + (f" (hint: {hint})" if hint else ""))
    return document


def _flags(**given: Any) -> list[str]:
    """`--name value` for each option given (lists repeat it, True is a bare flag)."""
    args: list[str] = []
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, list):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def build(
    directories: Directories,
    allow_write: bool = False,
    env: str | None = None,
    target_is_loopback: bool = True,
    run: RunCli = run_cli,
) -> MCPServer:
    """The server: the read-only tools, and with `allow_write` the ones that send; what
    it reads in this process (a webhook's API calls, the running API) is in
    `directories`."""
    server = MCPServer(
        "nango-hooks",
        version=__version__,
        instructions="Fire, inspect, replay and judge Nango webhooks locally. Start with "
        "nango_hooks_history_list; nango_hooks_protocol_notes explains each webhook type.",
    )
    scope = ["--env", env] if env else []

    def cli(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
        return _answer(run([*args, *scope], stdin, directories.config_file))

    @server.tool(name="nango_hooks_history_list", annotations=READ_ONLY)
    def history_list(
        limit: int = 20,
        type: str | None = None,
        connection: str | None = None,
        received: bool = False,
        failed: bool = False,
    ) -> dict[str, Any]:
        """Recorded webhooks, newest first (sent by fire/replay/check/scenarios, or
        received by listen/tunnel)."""
        return cli(
            "history",
            "list",
            *_flags(
                limit=limit, type=type, connection=connection, received=received, failed=failed
            ),
        )

    @server.tool(name="nango_hooks_history_show", annotations=READ_ONLY)
    def history_show(id: str) -> dict[str, Any]:
        """One webhook: headers, body, every attempt, and the API calls the handler made
        while it held each attempt."""
        document = cli("history", "show", id)
        found = str(document.get("data", {}).get("id") or id)
        document["api_calls"] = _api_calls(directories.history_db, found)
        return document

    @server.tool(name="nango_hooks_verify", annotations=READ_ONLY)
    def verify(
        body: str,
        headers: dict[str, str] | None = None,
        signature: str | None = None,
        legacy: bool = False,
    ) -> dict[str, Any]:
        """Check a raw body against its signature with the environment's signing keys:
        the request's `headers` (X-Nango-Hmac-Sha256 is used, else X-Nango-Signature),
        or a `signature` value (`legacy`: an X-Nango-Signature)."""
        given = {k.lower(): v for k, v in (headers or {}).items()}
        if signature is None and "x-nango-hmac-sha256" in given:
            signature = given["x-nango-hmac-sha256"]
        elif signature is None and "x-nango-signature" in given:
            signature, legacy = given["x-nango-signature"], True
        if signature is None:
            raise ToolError("no signature: pass the request's headers, or signature")
        flags = _flags(signature=signature, legacy=legacy)
        return cli("verify", "-", *flags, stdin=body.encode())

    @server.tool(name="nango_hooks_settings_show", annotations=READ_ONLY)
    def settings_show() -> dict[str, Any]:
        """The environment's effective settings (secrets masked) and where each came from."""
        return cli("config", "show")

    @server.tool(name="nango_hooks_records_list", annotations=READ_ONLY)
    def records_list(
        connection: str | None = None, model: str | None = None, limit: int = 20, live: bool = False
    ) -> dict[str, Any]:
        """The records the local Nango API serves (what sync webhooks announced)."""
        return cli(
            "records", "list", *_flags(connection=connection, model=model, limit=limit, live=live)
        )

    @server.tool(name="nango_hooks_scenario_validate", annotations=READ_ONLY)
    def scenario_validate(path: str) -> dict[str, Any]:
        """Read a scenario file and say whether it is valid (errors name line:column)."""
        from nango_cli.app.scenarios import files
        from nango_cli.errors import NangoHooksError

        try:
            scenario = files.load(Path(path))
        except NangoHooksError as exc:
            raise ToolError(exc.message + (f" (hint: {exc.hint})" if exc.hint else "")) from None
        steps = [{"name": s.name, "kind": s.kind} for s in scenario.steps]
        return {"ok": True, "data": {"name": scenario.name, "steps": steps}}

    @server.tool(name="nango_hooks_protocol_notes", annotations=READ_ONLY)
    def protocol_notes(type: str) -> dict[str, Any]:
        """What Nango sends for one webhook type: sync, auth, forward, async_action."""
        if type not in PROTOCOL_NOTES:
            raise ToolError(f"no webhook type {type!r}: one of {', '.join(PROTOCOL_NOTES)}")
        return {"ok": True, "data": {"type": type, "notes": PROTOCOL_NOTES[type]}}

    if allow_write:
        _write_tools(server, cli, target_is_loopback, directories)
    return server


def _write_tools(
    server: MCPServer,
    cli: Callable[..., dict[str, Any]],
    loopback: bool,
    directories: Directories,
) -> None:
    sends = ToolAnnotations(
        read_only_hint=False,
        destructive_hint=False,
        idempotent_hint=False,
        open_world_hint=not loopback,
    )

    @server.tool(name="nango_hooks_fire", annotations=sends)
    def fire(
        sync: str | None = None,
        auth: str | None = None,
        async_action: bool = False,
        added: int | None = None,
        updated: int | None = None,
        deleted: int | None = None,
        model: list[str] | None = None,
        connection: str | None = None,
        integration: str | None = None,
        failed: bool = False,
        url: str | None = None,
        sign: str | None = None,
    ) -> dict[str, Any]:
        """Send a webhook as Nango does (fire's flags): a sync completion (`sync`), an auth
        webhook (`auth`: creation, override, refresh, deletion) or an async action's,
        signed, with retries, recorded; what it announces is served by the local API."""
        given = _flags(
            sync=sync,
            auth=auth,
            async_action=async_action,
            added=added,
            updated=updated,
            deleted=deleted,
            model=model,
            connection=connection,
            integration=integration,
            failed=failed,
            url=url,
            sign=sign,
        )
        return cli("fire", *given)

    @server.tool(name="nango_hooks_replay", annotations=sends)
    def replay(id: str, url: str | None = None) -> dict[str, Any]:
        """Resend a recorded webhook, byte-identical (as Nango's retries are)."""
        return cli("replay", id, *_flags(url=url))

    @server.tool(name="nango_hooks_check", annotations=sends)
    def check(
        url: str | None = None, only: str | None = None, state: str | None = None
    ) -> dict[str, Any]:
        """Test a handler against Nango's contract: every webhook kind, forgeries, the
        fetch; each failure names its cause and fix."""
        return cli("check", *([url] if url else []), *_flags(only=only, state=state))

    @server.tool(name="nango_hooks_scenario_run", annotations=sends)
    def scenario_run(paths: list[str], url: str | None = None) -> dict[str, Any]:
        """Run scenario files against a handler and judge every step."""
        return cli("scenario", "run", *paths, *_flags(url=url))

    @server.tool(name="nango_hooks_api_fault", annotations=sends)
    def api_fault(
        status: int | None = None,
        times: int = 1,
        latency: float | None = None,
        short_pages: int | None = None,
        clear: bool = False,
    ) -> dict[str, Any]:
        """Make the running local Nango API (`nango-hooks api` or `dev`) fail its next
        records requests: a status, latency, or short pages (0 turns them off)."""
        from nango_cli.app.scenarios.remote_api import fault_running_api
        from nango_cli.errors import NangoHooksError

        try:
            url, fault = fault_running_api(
                directories.data, status, times, latency, short_pages, clear
            )
        except NangoHooksError as exc:
            raise ToolError(exc.message) from None
        return {"ok": True, "data": {"api": url, "fault": fault.__dict__}}


def _api_calls(history_db: Path, webhook_id: str) -> list[dict[str, Any]]:
    """The API calls made while the handler held each attempt of the webhook."""
    from nango_cli.app.api_calls import calls_during, window_of
    from nango_cli.storage.webhooks import Store

    with Store(history_db) as store:
        found = store.get(webhook_id)
        calls = []
        for attempt in found.attempts:
            calls += [c.to_dict() for c in calls_during(store, *window_of(attempt), settle=False)]
    return calls


def is_loopback_url(url: str | None) -> bool:
    from nango_cli.servers.skeleton import is_loopback

    host = urlsplit(url or "").hostname
    return host is None or host == "localhost" or is_loopback(host)
