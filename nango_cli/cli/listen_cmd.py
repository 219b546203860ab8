"""`nango-hooks listen`: a local listener that tails, verifies, stores and answers webhooks."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import output, views
from nango_cli.cli.common import (
    EnvOption,
    StreamJsonOption,
    checked_url,
    complete_syncs,
    open_store,
    parse_size,
    settings,
    use,
)
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.servers.listener.server import ListenOptions, ListenSummary, ReceivedEvent

ANSWER = "Answering"
FILTER = "Filtering (answered and stored either way)"
WAIT = "Waiting in CI"
LIMITS = "Limits"
EXTERNAL = "Playing Nango for external APIs"

_MARKS = {"valid": "✓", "invalid": "✗", "missing": "∅", "no-key": "?", "legacy-only": "✗"}
app = typer.Typer(rich_markup_mode=None)


@app.command("listen")
def listen(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", metavar="ADDRESS", help="Address to bind. [default: 127.0.0.1]"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            metavar="PORT",
            min=0,
            max=65535,
            help="Port (0: any free one). [default: 3456]",
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="PATH", help="Accept only this path (others get 404)."),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also print headers, the pretty body and filtered webhooks."
        ),
    ] = False,
    status: Annotated[
        int,
        typer.Option(
            "--status",
            metavar="CODE",
            min=100,
            max=599,
            help="Status to answer.",
            rich_help_panel=ANSWER,
        ),
    ] = 200,
    fail_first: Annotated[
        int,
        typer.Option(
            "--fail-first",
            metavar="N",
            min=0,
            help="Answer 500 to the first N requests.",
            rich_help_panel=ANSWER,
        ),
    ] = 0,
    delay: Annotated[
        float,
        typer.Option(
            "--delay",
            metavar="SECONDS",
            min=0,
            help="Seconds to wait before answering.",
            rich_help_panel=ANSWER,
        ),
    ] = 0.0,
    reject_invalid: Annotated[
        bool,
        typer.Option(
            "--reject-invalid",
            help="Answer 401 when the signature is not valid.",
            rich_help_panel=ANSWER,
        ),
    ] = False,
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to",
            metavar="URL",
            help="Proxy each webhook unchanged to this URL and answer with its response.",
            rich_help_panel=ANSWER,
        ),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            metavar="TYPE",
            help="Only webhooks of this type: sync, auth, forward, async_action (repeatable).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    sync: Annotated[
        list[str] | None,
        typer.Option(
            "--sync",
            "-s",
            metavar="NAME",
            help="Only this sync (repeatable).",
            autocompletion=complete_syncs,
            rich_help_panel=FILTER,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Only this model (repeatable).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    connection: Annotated[
        list[str] | None,
        typer.Option(
            "--connection",
            "-c",
            metavar="ID",
            help="Only this connectionId (repeatable); with --external, the connectionId "
            "the forwards carry (none: forwarded unwrapped).",
            rich_help_panel=FILTER,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            metavar="N",
            min=1,
            help="Exit 0 after N (matching) webhooks.",
            rich_help_panel=WAIT,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=0,
            help="Give up after SECONDS (exit 7 if --count was not reached).",
            rich_help_panel=WAIT,
        ),
    ] = None,
    require_valid: Annotated[
        bool,
        typer.Option(
            "--require-valid",
            help="Stop with exit 5 on a webhook whose signature is not valid.",
            rich_help_panel=WAIT,
        ),
    ] = False,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body",
            metavar="SIZE",
            help="Largest body accepted (413 above, not read).",
            rich_help_panel=LIMITS,
        ),
    ] = "5MB",
    body_budget: Annotated[
        str,
        typer.Option(
            "--body-budget",
            metavar="SIZE",
            help="Bodies in flight at once, in all (503 with Retry-After above).",
            rich_help_panel=LIMITS,
        ),
    ] = "64MB",
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            metavar="N",
            min=1,
            help="Open connections at once (503 and close beyond).",
            rich_help_panel=LIMITS,
        ),
    ] = 1000,
    idle_timeout: Annotated[
        float,
        typer.Option(
            "--idle-timeout",
            metavar="SECONDS",
            min=0.1,
            help="Close a connection idle this long, or still sending its headers.",
            rich_help_panel=LIMITS,
        ),
    ] = 15.0,
    body_timeout: Annotated[
        float,
        typer.Option(
            "--body-timeout",
            metavar="SECONDS",
            min=0.1,
            help="A body must arrive within this (408 after).",
            rich_help_panel=LIMITS,
        ),
    ] = 30.0,
    ui: Annotated[
        bool,
        typer.Option("--ui", help="Also serve the web inspector (`nango-hooks ui`)."),
    ] = False,
    ui_port: Annotated[
        int,
        typer.Option(
            "--ui-port", metavar="PORT", min=0, max=65535, help="Port of the inspector (0: any)."
        ),
    ] = 3458,
    external: Annotated[
        str | None,
        typer.Option(
            "--external",
            help="Receive PROVIDER's webhooks and forward them to --forward-to as Nango would.",
            metavar="PROVIDER",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration",
            "-i",
            metavar="KEY",
            help="providerConfigKey for --external.",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    trigger_sync: Annotated[
        str | None,
        typer.Option(
            "--trigger-sync",
            metavar="NAME",
            help="Also fire this sync's completion (syncType WEBHOOK).",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    env: EnvOption = None,
    json_output: StreamJsonOption = False,
) -> None:
    """Receive webhooks locally: print, verify, check, store, answer.

    Each webhook is printed, verified, checked against Nango's types and stored
    before it is answered as told. With --json, one envelope per line (NDJSON).

    Examples:

      nango-hooks listen

      nango-hooks listen --count 1 --timeout 30 --json > got.json &

      nango-hooks listen --fail-first 2 --delay 0.5

      nango-hooks listen --type sync --sync github-issues

      nango-hooks listen --forward-to http://127.0.0.1:3000/webhooks
    """
    from nango_cli.errors import UsageError
    from nango_cli.protocol.signatures import KeyRing
    from nango_cli.servers.listener.server import EventFilter, ListenOptions

    state = use(ctx, env, json_output, stream=True)
    current = settings(state)
    if path is not None and not path.startswith("/"):
        raise UsageError(f"invalid --path {path!r}", hint="it must start with /, e.g. /webhooks")
    if external:
        if not forward_to:
            raise UsageError("--external needs --forward-to APP_URL", hint="the app to forward to")
        if not current["signing_key"]:
            from nango_cli.errors import ConfigError

            raise ConfigError(
                f"--external signs what it forwards, and environment {current.env!r} has no "
                "signing key",
                hint="set it with `nango-hooks config set-key`",
            )
    external_connection = None
    if external and connection:
        if len(connection) > 1:
            raise UsageError("--external forwards as one connection", hint="give --connection once")
        external_connection = connection[0]
    options = ListenOptions(
        host=host or current["listen_host"],
        port=current["listen_port"] if port is None else port,
        path=path or current["listen_path"],
        keys=KeyRing.from_settings(current, _other_keys(current)),
        status=status,
        fail_first=fail_first,
        delay=delay,
        reject_invalid=reject_invalid,
        forward_to=checked_url(forward_to, "--forward-to") if forward_to else None,
        forward_timeout=float(current["timeout"]),
        max_body=parse_size(max_body, "--max-body"),
        body_budget=parse_size(body_budget, "--body-budget"),
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        body_timeout=body_timeout,
        count=count,
        timeout=timeout,
        require_valid=require_valid,
        env=current.env,
        filters=EventFilter(
            types=tuple(type_ or ()),
            syncs=tuple(sync or ()),
            models=tuple(model or ()),
            connections=() if external else tuple(connection or ()),
        ),
        external=external,
        integration=integration or current["provider_config_key"] or external,
        connection_id=external_connection,
        trigger_sync=trigger_sync,
    )
    if trigger_sync:
        from nango_cli.app.bodies import FireOptions, resolve_sync

        # Refused now, not on the first external webhook.
        resolve_sync(
            FireOptions(sync_name=trigger_sync, integration=options.integration), current, []
        )
    _run(options, current, state.json, verbose, ui_port if ui else None)


def _other_keys(current: Any) -> tuple[str, ...]:
    """Signing keys of the other environments, to recognise "signed with another key"."""
    keys = []
    file = current.file
    for env in file.environments():
        key = file.env_table(env).get("signing_key")
        if key and key != current["signing_key"]:
            keys.append(str(key))
    default_key = file.defaults_table().get("signing_key")
    if default_key and default_key != current["signing_key"]:
        keys.append(str(default_key))
    return tuple(keys)


def _run(
    options: "ListenOptions",
    current: Any,
    json_mode: bool,
    verbose: bool,
    ui_port: int | None = None,
) -> None:

    from nango_cli.app import running
    from nango_cli.servers.listener.server import Listener, is_loopback
    from nango_cli.support import eventloop

    printer = output.BackgroundPrinter()

    def on_event(event: Any) -> None:
        # Called on the listener's loop: rendered here, written by the printer's thread.
        for stream, text in _render(event, json_mode, verbose):
            printer.submit(stream, text)

    def on_ready(url: str) -> None:
        _banner(url, options, current)
        running.announce("listener", url, current.env)

    async def serve(listener: "Listener", store: Any) -> Any:
        inspector = None
        if ui_port is not None:
            # The inspector next to the listener, on the same loop and store.
            from nango_cli.servers.inspector.server import UiOptions, UiServer

            inspector = UiServer(UiOptions(options.host, ui_port, "--ui-port"), store, current)
            url = await inspector.start()
            output.err(Styled(f"Inspector on {url}", "bold"))
            running.announce("ui", url, current.env)
        try:
            return await listener.run(on_ready)
        finally:
            if inspector is not None:
                await inspector.close()
                running.withdraw("ui")

    if not is_loopback(options.host):
        output.warn(
            f"listening on {options.host}, not loopback: anyone who can reach this machine "
            "can post webhooks to it"
        )
    try:
        with open_store() as store:
            listener = Listener(options, store, on_event, current)
            summary = eventloop.run_until_signalled(
                lambda: serve(listener, store), lambda: listener.stop("interrupted")
            )
    finally:
        running.withdraw("listener")
        printer.close()
    _finish(summary, options, json_mode)


def _finish(summary: "ListenSummary", options: "ListenOptions", json_mode: bool) -> None:
    from nango_cli.errors import ExitCode, SignatureError, TimedOutError

    notices = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.notices.items()))
    filtered = f", {summary.filtered} filtered out" if summary.filtered else ""
    output.err(
        f"received {summary.received} webhook(s): {summary.valid} valid, "
        f"{summary.invalid} not valid{filtered} ({summary.reason})"
        + (f"; turned away or noticed: {notices}" if notices else "")
    )
    if summary.reason == "interrupted":
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if summary.reason == "invalid-signature":
        raise SignatureError(
            "a webhook arrived without a valid signature (--require-valid)",
            hint="`nango-hooks history --received` shows it with the likely cause",
        )
    if summary.reason == "timeout" and options.count is not None:
        raise TimedOutError(
            f"timed out after {options.timeout:g}s: {summary.received} of {options.count} "
            "webhook(s) arrived",
            hint="is the sender pointed at the URL printed at start?",
        )


def _banner(url: str, options: "ListenOptions", current: Any) -> None:
    from nango_cli.app.settings import mask_secret

    where = "" if options.path else " (any path)"
    output.err(Styled(f"Listening on {url}{where}", "bold"))
    if options.external:
        output.err(
            f"playing Nango for {options.external} webhooks: forwarding to {options.forward_to} "
            f"as integration {options.integration!r}"
            + (
                f", connection {options.connection_id!r}"
                if options.connection_id
                else " (no connection: unwrapped)"
            )
        )
    elif options.keys.current:
        rotation = (
            f", and the previous key ({mask_secret(options.keys.previous)}) during a rotation"
            if options.keys.previous
            else ""
        )
        output.err(
            f"verifying signatures with the {current.env} signing key "
            f"({mask_secret(options.keys.current)}){rotation}"
        )
    else:
        output.err(
            f"no signing key for environment {current.env!r}: signatures are shown, "
            "not verified (nango-hooks config set-key)"
        )
    if options.filters.active:
        f = options.filters
        parts = [
            f"{name} {', '.join(values)}"
            for name, values in (
                ("type", f.types),
                ("sync", f.syncs),
                ("model", f.models),
                ("connection", f.connections),
            )
            if values
        ]
        output.err(f"showing only webhooks with {'; '.join(parts)} (all are answered and stored)")
    if options.forward_to and not options.external:
        output.err(f"forwarding each webhook to {options.forward_to}")
    output.err(Styled("Ctrl-C to stop", "dim"))


def _render(event: Any, json_mode: bool, verbose: bool) -> list[tuple[Any, str]]:
    """The lines one event prints, as (stream, text), ready to write."""
    from nango_cli.servers.listener.server import ListenerNotice, ReceivedEvent

    out, err = output.stdio()
    if isinstance(event, ListenerNotice):
        if json_mode:
            document = {"ok": True, "event": "notice", "data": event.to_dict()}
            return [(out, output.ndjson_line(document))]
        return [(err, output.render(err, Styled(f"{event.kind}: ", "yellow"), event.message))]
    if not isinstance(event, ReceivedEvent):  # an attempt of the external mode
        if json_mode:
            data = {
                "webhook_id": event.webhook_id,
                "reason": event.reason,
                **event.attempt.to_dict(include_body=False),
            }
            return [(out, output.ndjson_line({"ok": True, "event": "attempt", "data": data}))]
        return [(err, output.render(err, *views.attempt_line(event)))]
    if event.filtered and not verbose:
        return []
    if json_mode:
        document = {"ok": True, "event": "webhook", "data": event.to_dict()}
        return [(out, output.ndjson_line(document))]
    lines = [output.render(out, *_line(event))]
    verdict = event.signature_state
    reason = event.hmac.reason or event.legacy.reason
    if verdict == "legacy-only":
        reason = "only the legacy X-Nango-Signature header: verify X-Nango-Hmac-Sha256 instead"
    if verdict in ("invalid", "legacy-only") and reason:
        lines.append(output.render(out, Styled(f"    ✗ {reason}", "red")))
    elif verdict == "valid" and event.hmac.matched == "previous":
        lines.append(
            output.render(
                out, Styled("    ✓ signed with the previous key: rotation window", "yellow")
            )
        )
    for note in event.notes:
        if verbose or note.level != "warning":
            style = {"problem": "red", "warning": "yellow"}.get(note.level, "cyan")
            lines.append(output.render(out, Styled(f"    {note.level}: {note.text}", style)))
    if event.forward:
        f = event.forward
        result = str(f.status_code) if f.status_code is not None else f"error: {f.error}"
        text = f"    → {f.url} {result} {f.latency_ms:.0f} ms {f.excerpt}".replace("\n", " ")
        lines.append(output.render(out, text))
    if verbose:
        for name, value in event.headers.items():
            lines.append(output.render(out, Styled(f"    {name}: {value}", "dim")))
        for line in views.pretty_body(event.readable_body).splitlines():
            lines.append(output.render(out, f"    {line}"))
    return [(out, "".join(lines))]


def _line(event: "ReceivedEvent") -> list[output.Segment]:
    s = event.summary_fields()
    kind = s["type"] or ("external" if event.fields.get("type") == "external" else "?")
    if kind == "sync":
        subject = f"{s['sync_name']}/{s['model']}"
        if s["success"] is False:
            subject += " failed"
    elif kind == "auth":
        subject = f"{s['operation']} {s['provider_config_key']}"
        if s["success"] is False:
            subject += " failed"
    else:
        subject = str(s["provider_config_key"] or "")
    counts = ""
    if isinstance(s["counts"], dict):
        c = s["counts"]
        counts = f" +{c.get('added', '?')} ~{c.get('updated', '?')} -{c.get('deleted', '?')}"
    verdict = event.signature_state
    mark = _MARKS.get(verdict, "?")
    style = "green" if verdict == "valid" else ("yellow" if verdict == "no-key" else "red")
    connection = s["connection_id"] if isinstance(s["connection_id"], str) else "-"
    filtered = [Styled("  (filtered out)", "dim")] if event.filtered else []
    return [
        f"{event.created_at[11:19]} {event.method} {event.path}  {kind} {subject}  "
        f"{connection}{counts}  ",
        Styled(f"{mark} {verdict}", style),
        f"  {len(event.body)} B  → {event.answered}  {event.id}",
        *filtered,
    ]
