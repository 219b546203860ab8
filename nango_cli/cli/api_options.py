"""Options `api` and `dev` share for the API stand-in."""

from typing import Annotated, Any

import typer

ActionResultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--action-result",
        metavar="NAME=JSON",
        help="What POST /action/trigger gives for action NAME (at once, or with X-Async at "
        'GET /action/{id}), repeatable. [default: {"success": true, "message": …}]',
    ),
]


def action_results(given: list[str] | None) -> dict[str, Any]:
    """--action-result NAME=JSON flags, by action name."""
    from nango_cli.errors import UsageError
    from nango_cli.protocol.serialization import parse_json

    results: dict[str, Any] = {}
    for item in given or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"invalid --action-result {item!r}",
                hint='use NAME=JSON, e.g. --action-result create-issue=\'{"id": "1"}\'',
            )
        try:
            results[name.strip()] = parse_json(text)
        except ValueError as exc:
            raise UsageError(
                f"--action-result {name.strip()}: not valid JSON ({exc})",
                hint="quote it for the shell: --action-result NAME='{\"ok\": true}'",
            ) from None
    return results
