"""`nango-hooks verify` and `nango-hooks sign`: offline signature tools."""

import shlex
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import EnvOption, JsonOption, read_input, settings, use

if TYPE_CHECKING:
    from nango_cli.protocol.signatures import KeyRing

verify_app = typer.Typer(rich_markup_mode=None)
sign_app = typer.Typer(rich_markup_mode=None)

SourceArgument = Annotated[
    str, typer.Argument(metavar="FILE", help="The body: a file, or - for stdin.")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="KEY",
        help="Signing key to use instead of the environment's (visible in "
        "shell history; prefer NANGO_HOOKS_SIGNING_KEY).",
    ),
]


def _keys(ctx: typer.Context, key: str | None, env: str | None, json_output: bool) -> "KeyRing":
    from nango_cli.errors import ConfigError
    from nango_cli.protocol.signatures import KeyRing

    state = use(ctx, env, json_output)
    if key:
        return KeyRing(current=key)
    current = settings(state)
    if not current.signing_key:
        raise ConfigError(
            f"no signing key for environment {current.env!r}",
            hint="pass --key, or set one with `nango-hooks config set-key`",
        )
    from nango_cli.app.keys import key_ring

    return key_ring(current)


@verify_app.command("verify")
def verify(
    ctx: typer.Context,
    signature: Annotated[
        str,
        typer.Option(
            "--signature", "-s", metavar="HEX", help="The received signature header (hex)."
        ),
    ],
    source: SourceArgument = "-",
    legacy: Annotated[
        bool, typer.Option("--legacy", help="It is an X-Nango-Signature (SHA-256 of key+body).")
    ] = False,
    key: KeyOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check a body against a signature (exit 5 if not valid).

    Accepts the environment's signing key and, during a rotation, its
    previous_signing_key; says which matched, or the likely cause of a mismatch.

    Example: nango-hooks verify body.json --signature "$HMAC_HEADER"
    """
    from nango_cli.errors import SignatureError
    from nango_cli.protocol import signatures, vocabulary

    keys = _keys(ctx, key, env, json_output)
    body = read_input(source, "verify")
    header = vocabulary.LEGACY_HEADER if legacy else vocabulary.HMAC_HEADER
    hmac_v, legacy_v = signatures.verify_headers(keys, body, {header: signature})
    verdict = legacy_v if legacy else hmac_v
    data = {
        "valid": verdict.ok,
        "header": header,
        "matched": verdict.matched,
        "reason": verdict.reason,
        "size": len(body),
    }
    if verdict.ok:
        if use(ctx).json:
            output.emit(data)
        else:
            which = " (previous key: rotation window)" if verdict.matched == "previous" else ""
            output.out(f"valid: {header} matches the body ({len(body)} bytes){which}")
        return
    raise SignatureError(
        f"invalid {header}: {verdict.reason}",
        hint="verify the raw request bytes with the webhook signing key (not the API secret key)",
        data=data,
    )


@sign_app.command("sign")
def sign(
    ctx: typer.Context,
    source: SourceArgument = "-",
    raw: Annotated[
        bool, typer.Option("--raw", help="Sign the bytes as they are (no re-serialization).")
    ] = False,
    curl: Annotated[
        str | None, typer.Option("--curl", metavar="URL", help="Print a ready curl command.")
    ] = None,
    key: KeyOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the headers Nango would send with a body.

    The body is stable-serialized as Nango would, unless --raw.

    Example: nango-hooks sign payload.json --curl http://127.0.0.1:3000/webhooks
    """

    from nango_cli.cli.common import checked_url
    from nango_cli.errors import UsageError
    from nango_cli.protocol import serialization
    from nango_cli.protocol.headers import signed_headers

    keys = _keys(ctx, key, env, json_output)
    body = read_input(source, "sign")
    notes: list[str] = []
    if not raw:
        try:
            body = serialization.serialize(serialization.parse_json(body), notes)
        except (ValueError, UnicodeDecodeError):
            raise UsageError(
                "the body is not JSON, so it cannot be serialized as Nango would",
                hint="pass --raw to sign the bytes as they are",
            ) from None
    for text in notes:
        output.warn(text)
    headers = signed_headers(body, keys.current)
    if use(ctx).json:
        output.emit({"headers": headers, "body": body.decode("utf-8", "replace")})
        return
    if curl:
        parts = ["curl", "-sS", "-X", "POST", shlex.quote(checked_url(curl, "--curl"))]
        for name, value in headers.items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", "surrogateescape"))]
        output.out(" ".join(parts))
        return
    for name, value in headers.items():
        output.out(f"{name}: {value}")
    if not raw:
        output.err("signed the stable serialization (sorted keys, compact); body as signed:")
        output.err(body.decode("utf-8", "backslashreplace"))
