"""The shape of the code, enforced: layered subpackages with the data flowing down.

    cli -> servers -> app -> storage -> delivery -> protocol      (support and errors
                                                                   are below them all)
    testing (a test suite's side door) -> servers and below

protocol is pure and imports nothing of the package but errors and support; delivery
only protocol; storage only protocol and delivery's history_rows (the attempt vocabulary);
app never servers or cli; nothing imports cli; aiohttp lives in servers/ and the
aiohttp sender, httpx in the httpx sender; the core never imports typer, rich or
click. Command modules never import each other and the shared views only render.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nango_cli"
FORBIDDEN = {"typer", "rich", "click"}
MAX_LINES = 500
MODULES = sorted(PACKAGE.rglob("*.py"))
# __main__ is the entry point: it starts the CLI, so it is not core.
CORE = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] != "cli" and p.name != "__main__.py"]
COMMANDS = sorted((PACKAGE / "cli").glob("*_cmd.py"))
# testkit.py keeps the kit's documented import path (the kit is testing/kit.py).
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "testkit.py"}

# What each layer may import from the package (besides itself, errors and support).
ALLOWED: dict[str, set[str]] = {
    "support": set(),
    "protocol": set(),
    "delivery": {"protocol"},
    "storage": {"protocol", "delivery.history_rows"},
    "app": {"protocol", "delivery", "storage"},
    "servers": {"protocol", "delivery", "storage", "app"},
    # nango-hooks in a test suite: the servers in-process, the kit, the pytest plugin.
    "testing": {"protocol", "delivery", "storage", "app", "servers"},
}


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, runtime_only: bool = False, package: Path = PACKAGE) -> set[str]:
    """Modules imported by `path`, relative imports resolved (with runtime_only, not
    those under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    here = _module_name(path, package).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # a module's relative imports start from its package
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                module = node.module
            else:
                continue
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def _package_imports(path: Path, package: Path = PACKAGE, runtime_only: bool = False) -> set[str]:
    """`nango_cli.x.y` imports as `x.y` (only modules and packages, not their names)."""
    found = set()
    for name in _imports(path, runtime_only, package):
        if not name.startswith("nango_cli."):
            continue
        parts = name.split(".")[1:]
        # `from nango_cli.protocol import bodies` gives nango_cli.protocol.bodies: a module
        while parts and not (
            package.joinpath(*parts).with_suffix(".py").exists()
            or (package.joinpath(*parts) / "__init__.py").exists()
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
        "testing",
        "cli",
    }


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_module_is_longer_than_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines: split it by concern"


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """Each module importing a layer above its own (relative imports included)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        layer = path.relative_to(package).parts[0].removesuffix(".py")
        if layer not in ALLOWED:
            continue
        allowed = ALLOWED[layer] | {layer, "errors", "support"}
        bad = {
            name
            for name in _package_imports(path, package)
            if not any(name == a or name.startswith(a + ".") for a in allowed)
        }
        if bad:
            found.append(f"{path.relative_to(package)} ({layer}) imports {sorted(bad)}")
    return found


def test_each_layer_imports_only_the_layers_below_it() -> None:
    assert layer_violations() == []


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


# ---------------------------------------------------------------- the holes, closed

# Parts of a layer that stand side by side: each is composed by others (servers/dev.py,
# servers/demo.py), never by one another.
SIDE_BY_SIDE = {"servers": ("api", "listener", "inspector")}
# The only modules that import by name at run time: the commands' registry and the
# public API's lazy attributes.
STRING_IMPORTERS = {"__init__.py", "cli/__init__.py"}
# What a view may use from the core: errors to end with, pure helpers, the event and
# value types it renders. Never what sends, stores, serves or decides.
VIEW_MAY_USE = ("errors", "support", "protocol", "app.settings_table", "servers.listener.events")


def _specific(names: set[str]) -> set[str]:
    """`from nango_cli.storage import webhooks` names the package and its module: keep
    the module (a package named for its submodule is not a dependency of its own)."""
    return {n for n in names if not any(other.startswith(n + ".") for other in names)}


def circles(package: Path = PACKAGE) -> list[list[str]]:
    """Import circles among the package's modules (run-time imports, wherever they sit
    in a module: a lazy import inside a function still ties the two)."""
    modules = {
        ".".join(p.relative_to(package).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }
    graph = {
        name: {
            d for d in _specific(_package_imports(path, package, runtime_only=True)) if d in modules
        }
        - {name}
        for name, path in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def view_violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted((package / "cli").glob("*view*.py")):
        core = {
            name
            for name in _specific(_package_imports(path, package, runtime_only=True))
            if not name.startswith("cli")
        }
        bad = {n for n in core if not any(n == a or n.startswith(a + ".") for a in VIEW_MAY_USE)}
        if bad:
            found.append(f"cli/{path.name} imports {sorted(bad)}")
    return found


def string_imports(package: Path = PACKAGE) -> list[str]:
    """Imports by name (importlib.import_module, __import__) outside the registries."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = str(path.relative_to(package))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            by_name = called.endswith("import_module") or called == "__import__"
            if by_name and rel not in STRING_IMPORTERS:
                found.append(f"{rel}:{node.lineno} {called}(…)")
    return found


def sideways(package: Path = PACKAGE) -> list[str]:
    found = []
    for layer, parts in SIDE_BY_SIDE.items():
        for part in parts:
            for path in sorted((package / layer / part).rglob("*.py")):
                others = {f"{layer}.{o}" for o in parts if o != part}
                bad = {
                    n
                    for n in _specific(_package_imports(path, package))
                    if any(n == o or n.startswith(o + ".") for o in others)
                }
                if bad:
                    found.append(f"{path.relative_to(package)} imports {sorted(bad)}")
    return found


def test_no_import_circles() -> None:
    assert circles() == []


def test_every_view_only_renders() -> None:
    assert sorted(p.name for p in (PACKAGE / "cli").glob("*view*.py")) == [
        "api_view.py",
        "listen_view.py",
        "scenario_view.py",
        "views.py",
    ]
    assert view_violations() == []


def test_imports_by_name_only_in_the_registries() -> None:
    assert string_imports() == []
    from nango_cli.cli import COMMANDS

    for module in COMMANDS.values():
        assert (PACKAGE / "cli" / f"{module[0].split(':')[0]}.py").exists(), module


def test_the_servers_stand_side_by_side() -> None:
    assert sideways() == []


def _scratch(tmp_path: Path) -> Path:
    copy = tmp_path / "nango_cli"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _plant(package: Path, module: str, line: str) -> None:
    path = package / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_guard_sees_a_relative_import_across_layers(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(package, "protocol/bodies.py", "from ..app import fire  # planted")
    assert any("protocol/bodies.py" in v for v in layer_violations(package))


def test_the_guard_sees_a_new_circle(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(package, "storage/records.py", "from nango_cli.storage import record_pages")
    _plant(package, "storage/record_pages.py", "from . import records  # planted")
    assert ["storage.record_pages", "storage.records"] in circles(package)


def test_the_guard_sees_a_view_that_does_work(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(package, "cli/scenario_view.py", "from nango_cli.storage import webhooks")
    assert view_violations(package) == ["cli/scenario_view.py imports ['storage.webhooks']"]


def test_the_guard_sees_a_string_import(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(
        package, "app/fire.py", "import importlib\n_x = importlib.import_module('nango_cli.cli')"
    )
    assert [v.split(":")[0] for v in string_imports(package)] == ["app/fire.py"]


def test_the_guard_sees_a_sideways_import(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(package, "servers/api/log.py", "from nango_cli.servers.listener import events")
    assert sideways(package) == ["servers/api/log.py imports ['servers.listener.events']"]


def global_lookups(package: Path = PACKAGE) -> list[str]:
    """Modules that look the state's directories up rather than being given them: only
    the CLI's environment makes them (`Directories.from_os`), once per invocation."""
    allowed = {"cli/environment.py", "support/paths.py"}
    found = []
    for path in sorted(package.rglob("*.py")):
        where = str(path.relative_to(package))
        if where in allowed:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            looks_up = isinstance(node, ast.Attribute) and node.attr == "from_os"
            names_home = isinstance(node, ast.Constant) and node.value == "NANGO_HOOKS_HOME"
            if looks_up or names_home:
                found.append(f"{where}:{node.lineno}")
    return found


def test_the_directories_are_passed_not_looked_up() -> None:
    assert global_lookups() == []


def test_the_guard_sees_a_lookup(tmp_path: Path) -> None:
    package = _scratch(tmp_path)
    _plant(
        package,
        "app/running.py",
        "from nango_cli.support.paths import Directories\n_d = Directories.from_os()",
    )
    lines = len((package / "app/running.py").read_text().splitlines())
    assert global_lookups(package) == [f"app/running.py:{lines}"]
