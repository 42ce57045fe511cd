"""Budgets with units: counts as `1.5M`, `300M`, `2G`, `40k` (or a plain number); latency as `5ms`,
`0.2s`, `800us`; a margin as `10%`. Parsing refuses anything else with a RunError naming the option."""

from __future__ import annotations

import math
import re

from ..errors import RunError

_COUNT = {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
_SECONDS = {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}  # to milliseconds
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def _split(text: str, units: dict[str, float], option: str, example: str) -> tuple[float, float]:
    match = re.fullmatch(rf"\s*({_NUMBER})\s*([A-Za-zµ]*)\s*", text)
    if match is None or match.group(3) not in units:
        raise RunError(f"{option} {text!r}: expected a number with a unit ({', '.join(u for u in units if u)}), "
                       f"e.g. {example}")
    value = float(match.group(1))
    if not math.isfinite(value) or value <= 0:
        raise RunError(f"{option} {text!r}: must be a finite number above 0")
    return value, units[match.group(3)]


def parse_count(text: str, option: str = "--max-params") -> int:
    """`1.5M` -> 1,500,000: a parameter or MAC count (k, M, G; no unit: as written)."""
    value, scale = _split(text, _COUNT, option, "1.5M or 300M")
    return max(1, round(value * scale))


def parse_latency(text: str, option: str = "--max-latency") -> float:
    """`5ms` -> 5.0 milliseconds (ms, s, us); a unit is required, so `5` is not read as seconds by mistake."""
    if re.fullmatch(rf"\s*{_NUMBER}\s*", text):
        raise RunError(f"{option} {text!r}: give a unit (ms, s or us), e.g. 5ms")
    value, scale = _split(text, {k: v for k, v in _SECONDS.items()}, option, "5ms")
    return value * scale


DEFAULT_LATENCY_MARGIN = "10%"  # above the re-measured spread of bench/budgets_real.py's searches (docs/budgets.md)


def parse_margin(text: str, option: str) -> float:
    """`10%` (or `10`) -> 0.1: a share of a limit, at least 0 and below 100%."""
    match = re.fullmatch(rf"\s*({_NUMBER})\s*%?\s*", text)
    value = float(match.group(1)) if match else math.nan
    if not 0 <= value < 100:
        raise RunError(f"{option} {text!r}: expected a percentage from 0 to below 100, e.g. 10%")
    return value / 100


def format_margin(share: float) -> str:
    """0.1 -> '10%': a margin as parse_margin reads it."""
    return f"{share * 100:g}%"


def format_count(n: int | float | None) -> str:
    """1_500_000 -> '1.5M', 300_000_000 -> '300M', 950 -> '950'."""
    if n is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def format_ms(ms: float | None) -> str:
    """5.0 -> '5ms', 0.25 -> '0.25ms', 1234 -> '1.23s'."""
    if ms is None:
        return "-"
    return f"{ms / 1e3:.3g}s" if ms >= 1e3 else f"{ms:.3g}ms"
