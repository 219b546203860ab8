"""The shape of the code, enforced: layered subpackages with the data flowing down.

    cli -> servers -> app -> storage -> delivery -> protocol      (support and errors
                                                                   are below them all)

protocol is pure and imports nothing of the package but errors and support; delivery
only protocol; storage only protocol and delivery's records (the attempt vocabulary);
app never servers or cli; nothing imports cli; aiohttp lives in servers/ and the
aiohttp sender, httpx in the httpx sender; the core never imports typer, rich or
click. Command modules never import each other and the shared views only render.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nango_cli"
FORBIDDEN = {"typer", "rich", "click"}
MAX_LINES = 500
MODULES = sorted(PACKAGE.rglob("*.py"))
# __main__ is the entry point: it starts the CLI, so it is not core.
CORE = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] != "cli" and p.name != "__main__.py"]
COMMANDS = sorted((PACKAGE / "cli").glob("*_cmd.py"))
TOP_LEVEL = {
    "__init__.py",
    "__main__.py",
    "errors.py",
    "testing.py",
    "testkit.py",
    "pytest_plugin.py",
}

# What each layer may import from the package (besides itself, errors and support).
ALLOWED: dict[str, set[str]] = {
    "support": set(),
    "protocol": set(),
    "delivery": {"protocol"},
    "storage": {"protocol", "delivery.records"},
    "app": {"protocol", "delivery", "storage"},
    "servers": {"protocol", "delivery", "storage", "app"},
}


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


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def _package_imports(path: Path) -> set[str]:
    """`nango_cli.x.y` imports as `x.y` (only modules and packages, not their names)."""
    found = set()
    for name in _imports(path):
        if not name.startswith("nango_cli."):
            continue
        parts = name.split(".")[1:]
        # `from nango_cli.protocol import bodies` gives nango_cli.protocol.bodies: a module
        while parts and not (
            PACKAGE.joinpath(*parts).with_suffix(".py").exists()
            or (PACKAGE.joinpath(*parts) / "__init__.py").exists()
        ):
            parts = parts[:-1]
        if parts:
            found.add(".".join(parts))
    return found


def test_the_top_level_holds_only_the_entry_points_and_the_public_api() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - TOP_LEVEL
    assert loose == set(), f"modules outside a layer: {sorted(loose)}"
    assert (PACKAGE / "py.typed").exists()
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "support",
        "protocol",
        "delivery",
        "storage",
        "app",
        "servers",
        "cli",
    }


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_module_is_longer_than_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", [p for p in MODULES if _layer(p) in ALLOWED], ids=_rel)
def test_each_layer_imports_only_the_layers_below_it(path: Path) -> None:
    layer = _layer(path)
    allowed = ALLOWED[layer] | {layer, "errors", "support"}
    bad = {
        name
        for name in _package_imports(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert not bad, f"{_rel(path)} ({layer}) imports {sorted(bad)}"


@pytest.mark.parametrize("path", CORE, ids=_rel)
def test_the_core_does_not_import_the_cli_layer(path: Path) -> None:
    bad = {
        n for n in _imports(path) if n.split(".")[0] in FORBIDDEN or n.startswith("nango_cli.cli")
    }
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_aiohttp_and_httpx_stay_where_they_belong(path: Path) -> None:
    """aiohttp: the servers and the load sender; httpx: the single-webhook sender. No
    module talks HTTP itself (no http.client copies)."""
    top = {n.split(".")[0] for n in _imports(path)}
    rel = _rel(path)
    if "aiohttp" in top:
        assert rel.startswith("servers/") or rel == "delivery/aiohttp_sender.py", rel
    if top & {"httpx", "httpcore"}:
        assert rel == "delivery/httpx_sender.py", rel
    assert not {"http.client", "urllib.request"} & _imports(path), rel


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


def test_the_layers_have_modules_to_check() -> None:
    names = {_rel(p) for p in MODULES}
    assert names >= {
        "protocol/serialization.py",
        "protocol/signatures.py",
        "delivery/retry.py",
        "delivery/outbox.py",
        "delivery/httpx_sender.py",
        "delivery/aiohttp_sender.py",
        "storage/webhooks.py",
        "app/fire.py",
        "servers/listener/server.py",
        "servers/skeleton.py",
        "servers/api/server.py",
        "servers/inspector/server.py",
    }
