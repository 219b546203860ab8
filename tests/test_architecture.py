"""The shape of the code: the core never imports the CLI layer's libraries, command
modules never import each other, the shared views only render, and the core's
vocabulary comes from one domain module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nango_cli"
FORBIDDEN = {"typer", "rich", "click"}
# __main__ is the entry point: it starts the CLI, so it is not core.
CORE = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if "cli" not in p.relative_to(PACKAGE).parts[:1] and p.name != "__main__.py"
)
COMMANDS = sorted((PACKAGE / "cli").glob("*_cmd.py"))


def _imports(path: Path, runtime_only: bool = False) -> set[str]:
    """Modules imported by `path` (with runtime_only, not those under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_does_not_import_the_cli_layer(path: Path) -> None:
    bad = {
        n for n in _imports(path) if n.split(".")[0] in FORBIDDEN or n.startswith("nango_cli.cli")
    }
    assert not bad, f"{path.name} imports {bad}"


def test_there_are_core_modules_to_check() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in CORE}
    assert names >= {
        "config.py",
        "signing.py",
        "delivery.py",
        "pipeline.py",
        "bodies.py",
        "files.py",
        "nango.py",
        "transports/httpx_sender.py",
        "transports/aiohttp_sender.py",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.name)
def test_command_modules_do_not_import_each_other(path: Path) -> None:
    others = {f"nango_cli.cli.{p.stem}" for p in COMMANDS} - {f"nango_cli.cli.{path.stem}"}
    imported = _imports(path)
    assert not imported & others, f"{path.name} imports {imported & others}"
    assert not {n for n in imported if n.startswith("nango_cli.cli.") and n.endswith("_cmd")}


def test_the_shared_views_only_render() -> None:
    """Views turn results into text; they neither send, store nor decide."""
    runtime = _imports(PACKAGE / "cli" / "views.py", runtime_only=True)
    core = {n for n in runtime if n.startswith("nango_cli.") and not n.startswith("nango_cli.cli")}
    assert core == set(), core


def test_http_goes_through_httpx_or_the_load_transport() -> None:
    """No module but the two transports talks HTTP itself (no http.client copies); aiohttp
    is the load client and the servers' library (listener, api, ui)."""
    for path in CORE:
        imported = _imports(path)
        assert not {"http.client", "urllib.request"} & imported, path.name
        if "aiohttp" in {n.split(".")[0] for n in imported}:
            assert path.name in ("aiohttp_sender.py", "listener.py", "api.py", "ui.py"), path
