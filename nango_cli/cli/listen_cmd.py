"""`nango-hooks listen`: a local listener that tails, verifies, stores and answers webhooks."""

import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nango_cli.cli import output, views
from nango_cli.cli.common import (
    EnvOption,
    JsonOption,
    checked_url,
    open_store,
    parse_size,
    settings,
    use,
)
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.listener import ListenOptions, ReceivedEvent

ANSWER = "Answering"
WAIT = "Waiting in CI"
EXTERNAL = "Playing Nango for external APIs"

_MARKS = {"valid": "✓", "invalid": "✗", "missing": "∅", "no-key": "?", "legacy-only": "✗"}
_print_lock = threading.Lock()
app = typer.Typer(rich_markup_mode=None)


@app.command("listen")
def listen(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind. [default: 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", "-p", min=0, max=65535, help="Port (0: any free one). [default: 3456]"
        ),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Accept only this path (others get 404).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print headers and the pretty body.")
    ] = False,
    status: Annotated[
        int,
        typer.Option(
            "--status", min=100, max=599, help="Status to answer.", rich_help_panel=ANSWER
        ),
    ] = 200,
    fail_first: Annotated[
        int,
        typer.Option(
            "--fail-first",
            min=0,
            help="Answer 500 to the first N requests.",
            rich_help_panel=ANSWER,
        ),
    ] = 0,
    delay: Annotated[
        float,
        typer.Option(
            "--delay", min=0, help="Seconds to wait before answering.", rich_help_panel=ANSWER
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
            help="Proxy each webhook unchanged to this URL and answer with its response.",
            rich_help_panel=ANSWER,
        ),
    ] = None,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body", help="Largest body accepted (413 above).", rich_help_panel=ANSWER
        ),
    ] = "5MB",
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", min=1, help="Exit 0 after N webhooks.", rich_help_panel=WAIT),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
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
            help="providerConfigKey for --external.",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection",
            "-c",
            help="connectionId for --external (none: forwarded unwrapped).",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    trigger_sync: Annotated[
        str | None,
        typer.Option(
            "--trigger-sync",
            help="Also fire this sync's completion (syncType WEBHOOK).",
            rich_help_panel=EXTERNAL,
        ),
    ] = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Receive webhooks locally: print, verify, check, store, answer.

    Each webhook is printed, verified, checked against Nango's types and stored
    before it is answered as told.

    Examples:

      nango-hooks listen

      nango-hooks listen --count 1 --timeout 30 --json > got.json &

      nango-hooks listen --fail-first 2 --delay 0.5

      nango-hooks listen --forward-to http://127.0.0.1:3000/webhooks

      nango-hooks listen --external github -i github -c conn-1 --forward-to http://127.0.0.1:3000/webhooks
    """
    from nango_cli.errors import UsageError
    from nango_cli.listener import ListenOptions

    state = use(ctx, env, json_output)
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
    options = ListenOptions(
        host=host or current["listen_host"],
        port=current["listen_port"] if port is None else port,
        path=path or current["listen_path"],
        key=current["signing_key"],
        other_keys=_other_keys(current),
        status=status,
        fail_first=fail_first,
        delay=delay,
        reject_invalid=reject_invalid,
        forward_to=checked_url(forward_to, "--forward-to") if forward_to else None,
        forward_timeout=float(current["timeout"]),
        max_body=parse_size(max_body, "--max-body"),
        count=count,
        timeout=timeout,
        require_valid=require_valid,
        env=current.env,
        external=external,
        integration=integration or current["provider_config_key"] or external,
        connection_id=connection,
        trigger_sync=trigger_sync,
    )
    _run(options, current, state.json, verbose)


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


def _run(options: "ListenOptions", current: Any, json_mode: bool, verbose: bool) -> None:
    import asyncio
    import signal

    from nango_cli.errors import ExitCode, SignatureError, TimedOutError
    from nango_cli.listener import Listener, is_loopback

    def on_event(event: Any) -> None:
        with _print_lock:
            _render(event, json_mode, verbose)

    def on_ready(url: str) -> None:
        _banner(url, options, current)

    async def main() -> Any:
        listener = Listener(options, store, on_event, current)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, listener.stop, "interrupted")
        return await listener.run(on_ready)

    if not is_loopback(options.host):
        output.warn(
            f"listening on {options.host}, not loopback: anyone who can reach this machine "
            "can post webhooks to it"
        )
    with open_store() as store:
        summary = asyncio.run(main())
    output.err(
        f"received {summary.received} webhook(s): {summary.valid} valid, "
        f"{summary.invalid} not valid ({summary.reason})"
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
    from nango_cli.config import mask_secret

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
    elif options.key:
        output.err(
            f"verifying signatures with the {current.env} signing key ({mask_secret(options.key)})"
        )
    else:
        output.err(
            f"no signing key for environment {current.env!r}: signatures are shown, "
            "not verified (nango-hooks config set-key)"
        )
    if options.forward_to and not options.external:
        output.err(f"forwarding each webhook to {options.forward_to}")
    output.err(Styled("Ctrl-C to stop", "dim"))


def _render(event: Any, json_mode: bool, verbose: bool) -> None:
    from nango_cli.listener import ReceivedEvent

    if not isinstance(event, ReceivedEvent):
        views.render_attempt(event)
        return
    if json_mode:
        sys.stdout.write(
            output.ndjson_line({"ok": True, "event": "webhook", "data": event.to_dict()})
        )
        sys.stdout.flush()
        return
    output.out(*_line(event))
    verdict = event.signature_state
    reason = event.hmac.reason or event.legacy.reason
    if verdict == "legacy-only":
        reason = "only the legacy X-Nango-Signature header: verify X-Nango-Hmac-Sha256 instead"
    if verdict in ("invalid", "legacy-only") and reason:
        output.out(Styled(f"    ✗ {reason}", "red"))
    for note in event.notes:
        if verbose or note.level != "warning":
            style = {"problem": "red", "warning": "yellow"}.get(note.level, "cyan")
            output.out(Styled(f"    {note.level}: {note.text}", style))
    if event.forward:
        f = event.forward
        result = str(f.status_code) if f.status_code is not None else f"error: {f.error}"
        output.out(f"    → {f.url} {result} {f.latency_ms:.0f} ms {f.excerpt}".replace("\n", " "))
    if verbose:
        for name, value in event.headers.items():
            output.out(Styled(f"    {name}: {value}", "dim"))
        for line in views.pretty_body(event.body).splitlines():
            output.out(f"    {line}")


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
    return [
        f"{event.created_at[11:19]} {event.method} {event.path}  {kind} {subject}  "
        f"{connection}{counts}  ",
        Styled(f"{mark} {verdict}", style),
        f"  {len(event.body)} B  → {event.answered}  {event.id}",
    ]
