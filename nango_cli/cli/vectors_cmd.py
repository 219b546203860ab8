"""`nango-hooks vectors`: signature test vectors for verifiers in any language."""

import json
from pathlib import Path
from typing import Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import JsonOption, use

app = typer.Typer(rich_markup_mode=None)


@app.command("vectors")
def vectors(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write them there.", dir_okay=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Print signature test vectors for webhook verifiers in any language.

    A versioned JSON document: for each case the exact body, the keys, the headers,
    and whether a correct verifier must accept it, and why (every webhook type,
    bodies a re-serializing verifier gets wrong, a rotated key, tampering, only the
    legacy header). docs/vectors.md has ten-line tests in TypeScript, Go and Ruby.

    Example: nango-hooks vectors -o test/nango-vectors.json
    """
    from nango_cli import __version__
    from nango_cli.errors import UsageError
    from nango_cli.protocol.vectors import document
    from nango_cli.support import files

    state = use(ctx, None, json_output)
    made = document(__version__)
    text = json.dumps(made, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        if state.json:
            output.emit(made)
        else:
            output.raw(text.encode())
        return
    if out.exists() and not force:
        raise UsageError(f"{out} exists", hint="choose another --output, or pass --force")
    try:
        files.atomic_write(out, text.encode())
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if state.json:
        output.emit({"path": str(out), "cases": len(made["cases"])})
        return
    output.err(f"wrote {out}: {len(made['cases'])} cases")
