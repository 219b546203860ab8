"""YAML read strictly, for the files people write by hand (nango.yaml, scenarios).

What PyYAML's safe loader does that surprises: `no` and `yes` become booleans (YAML
1.1), `2026-11-01` a date, a repeated key silently wins. Here, as YAML 1.2's core
schema and Nango's own parser (js-yaml) read them: only `true`/`false` are booleans,
dates stay strings, and a repeated key is an error. Hostile files are bounded: a
nesting limit, few aliases, a bound on the values they expand to (no "billion
laughs"), and numbers too long to convert are an error rather than a crash. Every
problem is a `YamlError` with line and column.
"""

from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 64
MAX_ALIASES = 256
MAX_NUMBER_DIGITS = 400
# Values once every alias is expanded: a few aliases of aliases multiply (nine per
# level made 486 bytes take 20 s and 0.8 GB), so the count is checked before building.
MAX_EXPANDED_NODES = 200_000


class YamlError(ValueError):
    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{problem}")
        self.problem = problem
        self.line = line
        self.column = column


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


def _loader() -> type:
    import yaml

    class Strict(yaml.SafeLoader):  # type: ignore[misc]
        depth = 0
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise YamlError(
                        f"more than {MAX_ALIASES} aliases", mark.line + 1, mark.column + 1
                    )
            self.depth += 1
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlError(
                    f"nested more than {MAX_DEPTH} levels deep", mark.line + 1, mark.column + 1
                )
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_document(self, node: Any) -> Any:
            _check_expansion(node)
            return super().construct_document(node)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise YamlError(
                        "a key that is not a plain value",
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    ) from None
                if key in seen:
                    first = seen[key]
                    raise YamlError(
                        f"duplicate key {key!r} (first at line {first.line + 1})",
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep)

    # YAML 1.2 core schema resolvers, instead of 1.1's (yes/no/on/off, dates, sexagesimals).
    Strict.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
        ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
        ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
        ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
        ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ):
        Strict.add_implicit_resolver(tag, pattern, first)

    def no_timestamps(loader: Any, node: Any) -> Any:
        raise YamlError(
            "!!timestamp is not supported: write the time as a string",
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        )

    def bounded_int(loader: Any, node: Any) -> Any:
        if len(str(node.value)) > MAX_NUMBER_DIGITS:
            raise YamlError(
                f"a number longer than {MAX_NUMBER_DIGITS} digits",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    Strict.add_constructor("tag:yaml.org,2002:timestamp", no_timestamps)
    Strict.add_constructor("tag:yaml.org,2002:int", bounded_int)
    return Strict


def _check_expansion(root: Any) -> None:
    """The number of values the document holds with its aliases expanded, counted on
    the composed graph (each node once, its size remembered): a YamlError past
    MAX_EXPANDED_NODES, or for an alias inside what it names."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            mark = node.start_mark
            raise YamlError("an alias inside the value it names", mark.line + 1, mark.column + 1)
        open_nodes.add(key)
        children = node.value if isinstance(node.value, list) else []
        total = 1
        for child in children:
            parts = child if isinstance(child, tuple) else (child,)
            total += sum(size(part) for part in parts)
            if total > MAX_EXPANDED_NODES:
                mark = node.start_mark
                raise YamlError(
                    f"more than {MAX_EXPANDED_NODES:,} values once its aliases are expanded",
                    mark.line + 1,
                    mark.column + 1,
                )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


_LOADER: type | None = None


def load(text: str) -> Any:
    """Parse `text` strictly; a YamlError says what and where."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _loader()
    try:
        return yaml.load(text, Loader=_LOADER)
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is None:
            raise YamlError(str(problem)) from None
        raise YamlError(str(problem), mark.line + 1, mark.column + 1) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise YamlError(f"a value that cannot be read ({exc})") from None
    except RecursionError:
        raise YamlError(f"nested more than {MAX_DEPTH} levels deep") from None
