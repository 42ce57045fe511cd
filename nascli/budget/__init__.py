"""Architecture cost and budgets: parameters, MACs and latency counted before a child trains,
hard limits (`--max-params`, `--max-macs`, `--max-latency`) and the sampling that respects them.
See docs/budgets.md."""

from .constraints import Constraints, Cost
from .units import format_count, format_ms, parse_count, parse_latency

__all__ = ["Constraints", "Cost", "format_count", "format_ms", "parse_count", "parse_latency"]
