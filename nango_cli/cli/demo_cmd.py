"""`nango-hooks demo`: fire a signed sync webhook at a listener, both in this process."""

from typing import Any

import typer

from nango_cli.cli import output, views
from nango_cli.cli.common import JsonOption, use
from nango_cli.cli.output import Styled

app = typer.Typer(rich_markup_mode=None)


@app.command("demo")
def demo(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """See it work: a listener, a signed sync webhook fired at it, verified.

    Needs no configuration and touches none: a throwaway key and store in a
    temporary directory. Takes a second or two.
    """
    from nango_cli.servers import demo as core

    state = use(ctx, None, json_output)
    quiet = state.json

    def on_sent(event: Any) -> None:
        if not quiet:
            views.render_attempt(event)

    def on_received(event: Any) -> None:
        if not quiet:
            verdict = event.signature_state
            style = "green" if verdict == "valid" else "red"
            model = event.fields.get("model")
            counts = event.fields.get("responseResults") or {}
            output.err(
                "  listener received ",
                Styled(f"sync {event.fields.get('syncName')}/{model}", "bold"),
                f" (+{counts.get('added')} ~{counts.get('updated')} -{counts.get('deleted')}) ",
                "signature ",
                Styled(verdict, style),
            )

    if not quiet:
        output.err(
            Styled("nango-hooks demo", "bold"), ": a listener and a sync webhook, in this process"
        )
    result = core.run(on_sent, on_received)
    data = {
        "listener": result.url,
        "sent": [s.to_dict() for s in result.sent],
        "received": [e.to_dict(include_body=False) for e in result.received],
    }
    if quiet:
        output.emit(data)
        return
    valid = sum(1 for e in result.received if e.signature_state == "valid")
    output.out(
        Styled("✓", "green"),
        f" {len(result.sent)} webhooks sent (one per model), {len(result.received)} received, "
        f"{valid} with a valid signature",
    )
    output.out("")
    output.out("Next, with your own handler:")
    for line in (
        "nango-hooks config set-url http://127.0.0.1:3000/webhooks/nango   # your handler",
        "nango-hooks config set-key                                   # the signing key",
        "nango-hooks dev                   # the Nango API, a listener, the inspector",
        "nango-hooks fire --sync NAME      # then, in another terminal: a sync webhook",
        "nango-hooks check                                            # the whole contract",
    ):
        output.out("  ", line)
    output.stdio()[0].flush()
