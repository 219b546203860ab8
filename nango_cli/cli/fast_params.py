"""Start-up shim: skip Typer's pydantic coercion where there is nothing to coerce.

Typer 0.29 builds a pydantic TypeAdapter for every non-bool parameter it
processes, even one left at its default of None. That imports pydantic (about
90 ms, more than the rest of a command) on every run. Absent values, strings,
lists of strings, numeric defaults and plain in-range numbers need nothing more
than `int()`/`float()`, so they skip it; every other case (an out-of-range or
malformed number included, so its error message is Typer's) goes through Typer
unchanged.

It patches a private Typer method, so it is fail-safe: `install` checks that
everything it relies on is there and otherwise leaves Typer alone, and the
replacement hands any value it does not recognise to Typer's own code. CI runs
the whole suite once with NANGO_HOOKS_NO_FAST_PARAMS=1 to show behaviour is
the same without it; pyproject pins typer <0.30 (docs/dependencies.md).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

DISABLE_ENV = "NANGO_HOOKS_NO_FAST_PARAMS"
_INT = re.compile(r"[+-]?[0-9]{1,18}")


def _in_range(param: Any, number: float) -> bool:
    """Within the parameter's min/max (when it clamps, Typer's own path decides)."""
    info = param.type_descriptor.parameter_info
    if getattr(info, "clamp", False):
        return False
    low, high = info.min, info.max
    return (low is None or number >= low) and (high is None or number <= high)


def _plain_int(param: Any, value: Any) -> bool:
    return isinstance(value, str) and bool(_INT.fullmatch(value)) and _in_range(param, int(value))


def _plain_float(param: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and _in_range(param, number)


def _coerce(param: Any, value: Any) -> tuple[bool, Any]:
    """(True, value) when no pydantic is needed; (False, None) to let Typer decide."""
    annotation = param.type_descriptor.annotation
    multiple = param.multiple or param.nargs == -1
    if value is None:
        return True, (() if multiple else None)
    if annotation is str and not multiple and isinstance(value, str):
        return True, value
    if annotation in (int, float) and not multiple and type(value) is annotation:
        return True, value  # a default, already typed
    if annotation is int and not multiple and _plain_int(param, value):
        return True, int(value)
    if annotation is float and not multiple and _plain_float(param, value):
        return True, float(value)
    if (
        annotation == list[str]
        and isinstance(value, list | tuple)
        and all(isinstance(item, str) for item in value)
    ):
        return True, list(value)
    return False, None


def _supported(parameter_class: Any) -> bool:
    """Whether this Typer has the private pieces the shim relies on."""
    try:
        from typer._click.exceptions import MissingParameter  # noqa: F401
    except ImportError:
        return False
    return callable(getattr(parameter_class, "process_value", None)) and all(
        hasattr(parameter_class, name) for name in ("value_is_missing",)
    )


def install() -> bool:
    """Patch Typer's parameter processing; True when the shim is active."""
    if os.environ.get(DISABLE_ENV):
        return False
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return False
    if getattr(_TyperParameter.process_value, "_nango_hooks_fast", False):
        return True
    if not _supported(_TyperParameter):
        return False
    from typer._click.exceptions import MissingParameter

    original = _TyperParameter.process_value

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        try:
            handled, coerced = _coerce(self, value)
        except AttributeError:  # a Typer whose parameters look different
            handled, coerced = False, None
        if not handled:
            return original(self, ctx, value)
        if self.required and self.value_is_missing(coerced):
            raise MissingParameter(ctx=ctx, param=self)
        if self.callback is not None:
            coerced = self.callback(ctx, self, coerced)
        return coerced

    process_value._nango_hooks_fast = True  # type: ignore[attr-defined]
    _TyperParameter.process_value = process_value  # type: ignore[method-assign]
    return True
