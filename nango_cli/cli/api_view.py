"""What the API stand-in prints: one line per request (`api` and `dev`). Rendering only."""

from typing import TYPE_CHECKING

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
