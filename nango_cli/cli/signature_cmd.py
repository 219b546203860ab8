"""`nango-hooks verify` and `nango-hooks sign`: offline signature tools."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.state import EnvOption, JsonOption, settings, use

SourceArgument = Annotated[
    str, typer.Argument(metavar="[FILE|-]", help="The body: a file, or - for stdin.")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Signing key to use instead of the environment's (visible in "
        "shell history; prefer NANGO_HOOKS_SIGNING_KEY).",
    ),
]


def _key(ctx: typer.Context, key: str | None, env: str | None, json_output: bool) -> str:
    from nango_cli.errors import ConfigError

    state = use(ctx, env, json_output)
    if key:
        return key
    current = settings(state)
    if not current["signing_key"]:
        raise ConfigError(
            f"no signing key for environment {current.env!r}",
            hint="pass --key, or set one with `nango-hooks config set-key`",
        )
    return str(current["signing_key"])


def verify(
    ctx: typer.Context,
    signature: Annotated[
        str, typer.Option("--signature", "-s", help="The received signature header (hex).")
    ],
    source: SourceArgument = "-",
    legacy: Annotated[
        bool, typer.Option("--legacy", help="It is an X-Nango-Signature (SHA-256 of key+body).")
    ] = False,
    key: KeyOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check a body against a signature; exit 0 when valid, 5 when not (with the likely cause).

    Example: nango-hooks verify body.json --signature "$HMAC_HEADER"
    """
    from nango_cli import signing
    from nango_cli.cli.inputs import read_input
    from nango_cli.errors import SignatureError

    signing_key = _key(ctx, key, env, json_output)
    body = read_input(source, "verify")
    header = signing.LEGACY_HEADER if legacy else signing.HMAC_HEADER
    hmac_v, legacy_v = signing.verify_headers(signing_key, body, {header: signature})
    verdict = legacy_v if legacy else hmac_v
    if use(ctx).json:
        output.emit_json(
            {"valid": verdict.ok, "header": header, "reason": verdict.reason, "size": len(body)}
        )
    if verdict.ok:
        if not use(ctx).json:
            output.out(f"valid: {header} matches the body ({len(body)} bytes)")
        return
    error = SignatureError(
        f"invalid {header}: {verdict.reason}",
        hint="verify the raw request bytes with the webhook signing key (not the API secret key)",
    )
    output.show_error(error, json_mode=False)
    raise typer.Exit(int(error.exit_code))


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
    """Print the headers Nango would send with a body (stable-serialized unless --raw).

    Example: nango-hooks sign payload.json --curl http://127.0.0.1:3000/webhooks
    """
    import json

    from nango_cli import signing
    from nango_cli.cli.inputs import read_input
    from nango_cli.delivery import base_headers
    from nango_cli.errors import UsageError

    signing_key = _key(ctx, key, env, json_output)
    body = read_input(source, "sign")
    if not raw:
        try:
            body = signing.serialize(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            raise UsageError(
                "the body is not JSON, so it cannot be serialized as Nango would",
                hint="pass --raw to sign the bytes as they are",
            ) from None
    headers = {**base_headers(), **signing.signature_headers(signing_key, body)}
    if use(ctx).json:
        output.emit_json({"headers": headers, "body": body.decode("utf-8", "replace")})
        return
    if curl:
        from nango_cli.cli.fire_cmd import checked_url

        parts = ["curl", "-sS", "-X", "POST", shlex.quote(checked_url(curl))]
        for name, value in headers.items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", "surrogateescape"))]
        output.out(" ".join(parts))
        return
    for name, value in headers.items():
        output.out(f"{name}: {value}")
    if not raw:
        output.err("signed the stable serialization (sorted keys, compact); body as signed:")
        output.err(output.safe(body.decode("utf-8", "backslashreplace")))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("sign")(sign)
