"""The core never imports the CLI layer's libraries (typer, rich, click)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nango_cli"
FORBIDDEN = {"typer", "rich", "click", "nango_cli.cli"}
CORE = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_does_not_import_the_cli_layer(path: Path) -> None:
    bad = {
        n for n in _imports(path) if n.split(".")[0] in FORBIDDEN or n.startswith("nango_cli.cli")
    }
    assert not bad, f"{path.name} imports {bad}"


def test_there_are_core_modules_to_check() -> None:
    assert {p.name for p in CORE} >= {"config.py", "signing.py", "delivery.py", "store.py"}
