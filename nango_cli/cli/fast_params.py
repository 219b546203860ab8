"""Start-up shim: skip Typer's pydantic coercion where there is nothing to coerce.

Typer 0.29 builds a pydantic TypeAdapter for every non-bool parameter it
processes, even one left at its default of None. That imports pydantic (about
90 ms, more than the rest of a command) on every run. Absent values, strings,
lists of strings and numeric defaults need no coercion, so they skip it; every
other case (any number typed on the command line included) goes through Typer
unchanged. Measured by benchmarks/startup.py; guarded by a test
that fails if a plain command imports pydantic again (for example after a Typer
upgrade changes these internals; pyproject pins typer <0.30).
"""

from __future__ import annotations

from typing import Any


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
            coerced = value  # a default, already typed (text from the command line is not)
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
