"""nango-hooks: simulate, replay and receive Nango webhooks.

The Python API (docs/python-api.md). Everything in `__all__` is public and follows
semantic versioning: a name is not removed or changed incompatibly before a major
version; anything else in the package may change at any time.

    import nango_cli

    webhook = nango_cli.sync_webhook(
        sync="github-issues", model="GithubIssue", connection_id="c-1",
        integration="github", signing_key="…", added=3,
    )
    assert nango_cli.verify(webhook.body, webhook.headers, "…").valid
    result = nango_cli.deliver(webhook, "http://127.0.0.1:3000/webhooks")

Names are imported on first use, so `import nango_cli` (which the command line does
on every run) stays cheap. `nango_cli.testing` runs the local servers in-process.
"""

import importlib as _importlib
import typing as _typing

__version__ = "0.3.0"

if _typing.TYPE_CHECKING:
    from nango_cli.delivery.deliver import deliver
    from nango_cli.delivery.history_rows import AttemptRecord as Attempt
    from nango_cli.delivery.mock import MockRequest, MockResponse, MockSender
    from nango_cli.delivery.retry import DeliveryResult
    from nango_cli.errors import NangoHooksError, UsageError
    from nango_cli.protocol.serialization import serialize
    from nango_cli.protocol.signatures import HeaderCheck as Verdict
    from nango_cli.protocol.signatures import KeyRing, Verification, verify
    from nango_cli.protocol.signed_webhooks import (
        SignedWebhook,
        async_action_webhook,
        auth_webhook,
        forward_webhook,
        sign_webhook,
        sync_webhook,
    )

# public name -> (module, name in that module)
_EXPORTS: dict[str, tuple[str, str]] = {
    "Attempt": ("nango_cli.delivery.history_rows", "AttemptRecord"),
    "DeliveryResult": ("nango_cli.delivery.retry", "DeliveryResult"),
    "KeyRing": ("nango_cli.protocol.signatures", "KeyRing"),
    "MockRequest": ("nango_cli.delivery.mock", "MockRequest"),
    "MockResponse": ("nango_cli.delivery.mock", "MockResponse"),
    "MockSender": ("nango_cli.delivery.mock", "MockSender"),
    "NangoHooksError": ("nango_cli.errors", "NangoHooksError"),
    "SignedWebhook": ("nango_cli.protocol.signed_webhooks", "SignedWebhook"),
    "UsageError": ("nango_cli.errors", "UsageError"),
    "Verdict": ("nango_cli.protocol.signatures", "HeaderCheck"),
    "Verification": ("nango_cli.protocol.signatures", "Verification"),
    "async_action_webhook": ("nango_cli.protocol.signed_webhooks", "async_action_webhook"),
    "auth_webhook": ("nango_cli.protocol.signed_webhooks", "auth_webhook"),
    "deliver": ("nango_cli.delivery.deliver", "deliver"),
    "forward_webhook": ("nango_cli.protocol.signed_webhooks", "forward_webhook"),
    "serialize": ("nango_cli.protocol.serialization", "serialize"),
    "sign_webhook": ("nango_cli.protocol.signed_webhooks", "sign_webhook"),
    "sync_webhook": ("nango_cli.protocol.signed_webhooks", "sync_webhook"),
    "verify": ("nango_cli.protocol.signatures", "verify"),
}

__all__ = [
    "Attempt",
    "DeliveryResult",
    "KeyRing",
    "MockRequest",
    "MockResponse",
    "MockSender",
    "NangoHooksError",
    "SignedWebhook",
    "UsageError",
    "Verdict",
    "Verification",
    "__version__",
    "async_action_webhook",
    "auth_webhook",
    "deliver",
    "forward_webhook",
    "serialize",
    "sign_webhook",
    "sync_webhook",
    "verify",
]


def __getattr__(name: str) -> _typing.Any:
    found = _EXPORTS.get(name)
    if found is None:
        raise AttributeError(f"module 'nango_cli' has no attribute {name!r}")
    value = getattr(_importlib.import_module(found[0]), found[1])
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
