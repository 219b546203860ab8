"""`listen --external PROVIDER`: play Nango for an external API's webhooks.

Each external webhook becomes a Nango `forward` webhook (and, with --trigger-sync,
the sync's completion webhook), signed with the environment's key and sent with the
fire service. Because what arrives here leaves signed, a request a web page could
have composed is refused (403) unless the user allows it: one with an `Origin` or
`Sec-Fetch-*` header (browsers add them, servers do not), or with a content type a
page may send cross-site without asking (text/plain, form encodings). Otherwise any
page the developer visits could have their app receive validly signed webhooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nango_cli.app import fire
from nango_cli.servers.listener.events import ListenOptions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from nango_cli.app.settings import Settings
    from nango_cli.storage.webhooks import Store

# Content types a page can POST cross-site without a CORS preflight.
_SAFELISTED = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


def browser_origin(headers: Mapping[str, str]) -> str | None:
    """Why a request looks composed by a web page, or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "origin" in lowered:
        return f"it carries Origin: {lowered['origin'][:100]}"
    if any(name.startswith("sec-fetch-") for name in lowered):
        return "it carries the Sec-Fetch headers browsers add"
    kind = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind in _SAFELISTED:
        return f"its content type {kind} is one a web page may send anywhere"
    return None


def send(
    options: ListenOptions,
    settings: Settings,
    store: Store,
    body: bytes,
    headers: dict[str, str],
    on_event: Callable[[Any], None],
) -> list[str]:
    """Fire the forward (and the triggered sync) for one external webhook; their ids."""
    targets = [options.forward_to] if options.forward_to else []
    fires = [
        fire.FireOptions(
            kind="forward",
            integration=options.integration,
            provider=options.external,
            connection_id=options.connection_id,
            unmatched=options.connection_id is None,
            forward_body=body,
            forward_headers=list(headers.items()),
            urls=targets,
        )
    ]
    if options.trigger_sync:
        fires.append(
            fire.FireOptions(
                kind="sync",
                sync_name=options.trigger_sync,
                integration=options.integration,
                connection_id=options.connection_id,
                sync_type="WEBHOOK",
                urls=targets,
            )
        )
    ids: list[str] = []
    for one in fires:
        # The fire service: the sync's records are written before its webhook goes.
        fired = fire.fire(one, settings, store, on_event)
        ids.extend(s.record.id for s in fired.sent)
    return ids
