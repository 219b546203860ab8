"""Start-up shim: skip Typer's pydantic coercion where there is nothing to coerce.

Typer 0.29 builds a pydantic TypeAdapter for every non-bool parameter it
processes, even one left at its default of None. That imports pydantic (about
90 ms, more than the rest of a command) on every run. Absent values, strings,
lists of strings, numeric defaults and plain in-range numbers need nothing more
than `int()`/`float()`, so they skip it; every other case (an out-of-range or
malformed number included, so its error message is Typer's) goes through Typer
unchanged. Measured by benchmarks/startup.py; guarded by a test
that fails if a plain command imports pydantic again (for example after a Typer
upgrade changes these internals; pyproject pins typer <0.30).
"""

from __future__ import annotations

import math
import re
from typing import Any

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


def install() -> None:
    from typer._click.exceptions import MissingParameter
    from typer.core import _TyperParameter

    if getattr(_TyperParameter.process_value, "_nango_hooks_fast", False):
        return
    original = _TyperParameter.process_value

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        annotation = self.type_descriptor.annotation
        multiple = self.multiple or self.nargs == -1
        if value is None:
            coerced: Any = () if multiple else None
        elif annotation is str and not multiple and isinstance(value, str):
            coerced = value
        elif annotation in (int, float) and not multiple and type(value) is annotation:
            coerced = value  # a default, already typed
        elif annotation is int and not multiple and _plain_int(self, value):
            coerced = int(value)
        elif annotation is float and not multiple and _plain_float(self, value):
            coerced = float(value)
        elif (
            annotation == list[str]
            and isinstance(value, list | tuple)
            and all(isinstance(item, str) for item in value)
        ):
            coerced = list(value)
        else:
            return original(self, ctx, value)
        if self.required and self.value_is_missing(coerced):
            raise MissingParameter(ctx=ctx, param=self)
        if self.callback is not None:
            coerced = self.callback(ctx, self, coerced)
        return coerced

    process_value._nango_hooks_fast = True  # type: ignore[attr-defined]
    _TyperParameter.process_value = process_value  # type: ignore[method-assign]
