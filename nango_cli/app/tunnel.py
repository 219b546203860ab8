"""`nango-hooks tunnel`: one connection's webhooks, from the real Nango, to this machine.

Nango sends a connection's webhooks to its `webhook_url_override` instead of the
environment's URLs. The tunnel points that override at a public URL (the user's
ngrok or cloudflared, which reaches the local listener), and puts the previous value
back when it stops. Nango's `PATCH /connections/{id}` has no concurrency control, so:

- a **lease** is written to the store before the override is changed (what was there,
  what is set, by which process), so a crash leaves what `--restore` needs;
- the value set is **tagged** (`?nango_hooks=<installation>`), so `--prune` can find
  overrides this installation left behind;
- restoring is **compare-and-restore**: the previous value goes back only if the
  override is still the one set; a value someone else set meanwhile is left, and said.

The Nango calls go through the httpx sender's `call_json` (packages/server/lib/
controllers/connection/connectionId/getConnection.ts and patchConnection.ts: the
override is shown by GET, set by PATCH, `""` clears it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from nango_cli.errors import ConfigError, DeliveryError, NangoHooksError, UsageError
from nango_cli.storage import leases
from nango_cli.storage.database import Database
from nango_cli.storage.leases import Lease

TAG = "nango_hooks"
# How often the override is read back while the tunnel runs (a re-auth through a connect
# session without an override clears it; a teammate may change it).
WATCH_S = 10.0


class NangoCallFailed(DeliveryError):
    """Nango could not be reached, or refused a call (exit 4)."""


# ---------------------------------------------------------------- the URL


def url_refusal(url: str) -> str | None:
    """Why Nango would refuse `url` as a webhook URL, or None. Nango's egress policy
    refuses loopback, private, link-local and unspecified addresses; only http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "it is not an http(s) URL"
    host = (parts.hostname or "").lower()
    if not host:
        return "it has no host"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"{host} names this machine or a private network"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: Nango resolves it; a tunnel's public name passes
    if address.is_loopback:
        return f"{host} is a loopback address"
    if address.is_private or address.is_link_local or address.is_unspecified:
        return f"{host} is a private address"
    return None


def tagged(url: str, installation: str) -> str:
    """`url` with this installation's tag in its query (kept when it had one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TAG]
    query.append((TAG, installation))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tag_of(url: str | None) -> str | None:
    """The installation an override's tag names, or None (not set by a tunnel)."""
    if not url:
        return None
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == TAG:
            return value
    return None


# ---------------------------------------------------------------- Nango's API


@dataclass(frozen=True)
class NangoApi:
    """The connection endpoints of a Nango (or a stand-in's), with a secret key."""

    host: str
    secret_key: str

    def _call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        from nango_cli.delivery.httpx_sender import CallFailed, call_json

        url = self.host.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        try:
            status, answer = call_json(method, url, headers, body, params or None)
        except CallFailed as exc:
            raise NangoCallFailed(
                f"cannot reach Nango at {self.host}: {exc}",
                hint="check the nango_host setting (NANGO_HOOKS_NANGO_HOST) and the network",
            ) from None
        if status == 401:
            raise ConfigError(
                f"Nango at {self.host} refused the secret key (401)",
                hint="set the environment's secret key: `nango-hooks config set-key --secret`",
            )
        if status >= 400:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            code = error.get("code") if isinstance(error, dict) else None
            raise NangoCallFailed(
                f"Nango answered {method} {path} with {status} {code or ''}".rstrip(),
                hint="check the connection id and the integration (--integration)",
            )
        return answer

    def override(self, connection_id: str, integration: str) -> str | None:
        """The connection's webhook_url_override (None: unset)."""
        found = self._call(
            "GET", f"/connections/{quote(connection_id, safe='')}", provider_config_key=integration
        )
        value = found.get("webhook_url_override") if isinstance(found, dict) else None
        return str(value) if value else None

    def set_override(self, connection_id: str, integration: str, url: str | None) -> None:
        self._call(
            "PATCH",
            f"/connections/{quote(connection_id, safe='')}",
            {"webhook_url_override": url or ""},
            provider_config_key=integration,
        )

    def connections(self, integration: str | None = None) -> list[tuple[str, str]]:
        """(connection id, integration) of the environment's connections."""
        params = {"integrationId": integration} if integration else {}
        found = self._call("GET", "/connections", **params)
        listed = found.get("connections", []) if isinstance(found, dict) else []
        return [
            (str(c["connection_id"]), str(c["provider_config_key"]))
            for c in listed
            if isinstance(c, dict) and "connection_id" in c and "provider_config_key" in c
        ]


# ---------------------------------------------------------------- leases


@dataclass(frozen=True)
class Restored:
    """What putting a lease back did."""

    lease: Lease
    outcome: str  # "restored" | "left" (someone changed it) | "failed"
    current: str | None = None
    error: str | None = None

    def describe(self) -> str:
        what = f"connection {self.lease.connection_id} ({self.lease.integration})"
        before = self.lease.previous or "unset (the environment's URLs)"
        if self.outcome == "restored":
            return f"{what}: webhook_url_override put back to {before}"
        if self.outcome == "left":
            return (
                f"{what}: webhook_url_override left as {self.current or 'unset'}: it was "
                f"changed after the tunnel set it (not by this tunnel), so it was not "
                f"overwritten; before the tunnel it was {before}"
            )
        return f"{what}: not put back ({self.error}); `nango-hooks tunnel --restore` retries"


def open_tunnel(
    store: Database,
    api: NangoApi,
    env: str,
    connection_id: str,
    integration: str,
    public_url: str,
) -> Lease:
    """Read the override, write the lease, then point the override at `public_url`
    (tagged). A failure after the lease leaves it for `--restore` to settle."""
    previous = api.override(connection_id, integration)
    value = tagged(public_url, leases.installation_id(store))
    if tag_of(previous) == leases.installation_id(store):
        # Our own leftover with no lease (its lease was settled): never restore to it.
        previous = None
    lease = leases.open_lease(store, env, api.host, connection_id, integration, previous, value)
    api.set_override(connection_id, integration, value)
    return lease


def close_tunnel(store: Database, api: NangoApi, lease: Lease) -> Restored:
    """Compare-and-restore: the previous value goes back only when the override is
    still the one this lease set."""
    try:
        current = api.override(lease.connection_id, lease.integration)
        if current != lease.value_set:
            leases.end_lease(store, lease.id, "left")
            return Restored(lease, "left", current)
        api.set_override(lease.connection_id, lease.integration, lease.previous)
    except NangoHooksError as exc:
        return Restored(lease, "failed", error=exc.message)
    leases.end_lease(store, lease.id, "restored")
    return Restored(lease, "restored")


def changed(api: NangoApi, lease: Lease) -> str | None:
    """What the override is now when it is no longer the value set (None: unchanged)."""
    current = api.override(lease.connection_id, lease.integration)
    if current == lease.value_set:
        return None
    return current or ""


def restore_all(
    store: Database, api_for: Callable[[Lease], NangoApi], pid_alive: Callable[[int], bool]
) -> list[Restored]:
    """Every lease left open by a tunnel that is no longer running, put back."""
    done = []
    for lease in leases.open_leases(store):
        if pid_alive(lease.pid):
            continue
        try:
            api = api_for(lease)
        except NangoHooksError as exc:
            done.append(Restored(lease, "failed", error=exc.message))
            continue
        done.append(close_tunnel(store, api, lease))
    return done


def tagged_overrides(
    store: Database, api: NangoApi, integration: str | None = None
) -> list[tuple[str, str, str]]:
    """(connection, integration, override) of the environment's connections whose
    override this installation's tunnels set and no running tunnel holds."""
    ours = leases.installation_id(store)
    held = {(lease.connection_id, lease.integration) for lease in leases.open_leases(store)}
    found = []
    for connection_id, key in api.connections(integration):
        if (connection_id, key) in held:
            continue
        current = api.override(connection_id, key)
        if tag_of(current) == ours and current is not None:
            found.append((connection_id, key, current))
    return found


def check_public_url(url: str, allow_private: bool) -> None:
    reason = url_refusal(url)
    if reason is not None and not allow_private:
        raise UsageError(
            f"Nango would refuse --public-url {url}: {reason}",
            hint="give the public URL of the tunnel (ngrok, cloudflared) that reaches --port; "
            "--allow-private-url for a self-hosted Nango that allows it, or a local stand-in",
        )
