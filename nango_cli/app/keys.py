"""The keys an environment verifies webhooks with, from its settings."""

from __future__ import annotations

from nango_cli.app.settings import Settings
from nango_cli.protocol.signatures import KeyRing


def key_ring(settings: Settings, with_others: bool = True) -> KeyRing:
    """The environment's signing key (and previous key, during a rotation), its secret
    key, and the other environments' signing keys by name, so a webhook signed with
    `prod`'s key is named as such."""
    return KeyRing(
        current=settings.signing_key,
        previous=settings.previous_signing_key,
        secret=settings.secret_key,
        others=other_keys(settings) if with_others else (),
    )


def other_keys(settings: Settings) -> tuple[tuple[str, str], ...]:
    """Signing keys of the other environments (and of [defaults]), by name."""
    found: list[tuple[str, str]] = []
    current = settings.signing_key
    file = settings.file
    for env in file.environments():
        key = file.env_table(env).get("signing_key")
        if key and key != current and env != settings.env:
            found.append((env, str(key)))
    default_key = file.defaults_table().get("signing_key")
    if default_key and default_key != current:
        found.append(("[defaults]", str(default_key)))
    return tuple(found)
