"""What the API stand-in prints: one line per request (`api` and `dev`). Rendering only."""

from typing import TYPE_CHECKING, Any

from nango_cli.cli import output
from nango_cli.cli.output import Styled

if TYPE_CHECKING:
    from nango_cli.storage.api_log import ApiRequest


def request_line(request: "ApiRequest") -> str:
    """One request as a line: time, method, path and what it asked, status, what it got."""
    asked = []
    if request.model:
        asked.append(f"model={request.model}")
    if request.connection_id:
        asked.append(f"connection={request.connection_id}")
    for name in ("modified_after", "delta", "filter", "limit"):
        if name in request.query:
            asked.append(f"{name}={','.join(request.query[name])}")
    if "cursor" in request.query:
        asked.append("cursor")
    got = []
    if request.record_count is not None:
        got.append(f"{request.record_count} record(s)")
    if request.next_cursor:
        got.append("more")
    if request.error_code:
        got.append(request.error_code)
    style = "green" if request.status < 400 else "red"
    return output.render(
        output.stdio()[0],
        Styled(request.created_at[11:19], "dim"),
        f" {request.method} {request.path} ",
        "".join(f"{a} " for a in asked),
        "→ ",
        Styled(str(request.status), style),
        f" {' '.join(got)}" if got else "",
        Styled(f" {request.duration_ms:.1f} ms", "dim") if request.duration_ms is not None else "",
    )


def caused_lines(opts: Any, fired: Any) -> list[str]:
    """What became of the webhooks one API call caused (`api --webhooks`, `dev`)."""
    from nango_cli.errors import NangoHooksError

    what = {"sync": opts.sync_name, "auth": opts.auth_operation}.get(opts.kind, opts.kind)
    if isinstance(fired, NangoHooksError):
        return [f"caused webhook ({opts.kind} {what}) not sent: {fired.message}"]
    if fired.skipped:
        return [f"caused webhook ({opts.kind} {what}) not sent: {fired.skipped}"]
    lines = []
    for item in fired.sent:
        outcome = "delivered" if item.delivered else "not delivered"
        model = f"/{item.record.model}" if item.record.model else ""
        lines.append(f"caused webhook {opts.kind} {what}{model} {outcome} ({item.record.id})")
    return lines


def caused_reporter(printer: output.BackgroundPrinter) -> Any:
    """`api --webhooks` and `dev`: each caused webhook's line, on stderr."""

    def report(opts: Any, fired: Any) -> None:
        for text in caused_lines(opts, fired):
            printer.submit(printer.stderr, output.render(printer.stderr, text))

    return report
