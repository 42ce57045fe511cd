"""The one validator of every float option: finite, and in the range the option makes sense in.

typer's own `min=` lets `inf` and `nan` through (`nan < min` is false), and a search then
fails later, or a resume does, far from the option. Every float option of every command
is declared with `float_option`, which refuses both and any value out of its range with
a usage error naming the option (exit 2), and says the range in the option's help;
`tests/test_float_options.py` walks all commands and fails for one declared otherwise.

    lr: Annotated[Optional[float], float_option(help="Learning rate.", above=0)] = None
"""

from __future__ import annotations

import math
from typing import Any

import typer


def _bound(at_least: float | None, above: float | None, at_most: float | None) -> str:
    low = f" > {above:g}" if above is not None else (f" ≥ {at_least:g}" if at_least is not None else "")
    high = f" ≤ {at_most:g}" if at_most is not None else ""
    return f"{low} and{high}" if low and high else low + high


def float_option(*param_decls: str, help: str, at_least: float | None = None, above: float | None = None,
                 at_most: float | None = None, **option: Any) -> Any:
    """`typer.Option(*param_decls, help=..., **option)` for a float: refuses inf, nan, values below
    `at_least`, values not above `above` and values over `at_most`; the help ends with the accepted
    range. (typer's own `max=` would refuse inf first, with its own message.)"""
    if at_least is not None and above is not None:
        raise ValueError("give at_least or above, not both")
    bound = _bound(at_least, above, at_most)

    def check(value: float | None) -> float | None:
        if value is None:  # an Optional option left out
            return value
        if math.isnan(value) or math.isinf(value) or (above is not None and not value > above) or (
                at_least is not None and value < at_least) or (at_most is not None and value > at_most):
            raise typer.BadParameter(f"{value:g} is not a finite number{bound}")
        return value

    allowed = f"A finite number{bound}." if bound else "Any finite number."
    return typer.Option(*param_decls, help=f"{help} {allowed}", callback=check, **option)
