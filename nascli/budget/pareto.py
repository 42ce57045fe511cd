"""The Pareto front of a run: the children no other child beats on both accuracy and a cost.

A child is dominated when another has accuracy at least as high and cost at most as
high, and is strictly better in one of the two. Ties (same accuracy and cost) are all
kept. O(n log n): sort by cost, keep each child more accurate than every cheaper one.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal, Sequence, TypeVar

COSTS = ("params", "macs", "latency_ms")
CostName = Literal["params", "macs", "latency_ms"]
T = TypeVar("T")


def pareto_front(items: Sequence[T], accuracy, cost) -> list[T]:
    """The non-dominated `items` (`accuracy(item)` higher is better, `cost(item)` lower is), cheapest first;
    items whose accuracy or cost is None are left out."""
    known = [i for i in items if accuracy(i) is not None and cost(i) is not None]
    ordered = sorted(known, key=lambda i: (cost(i), -accuracy(i)))
    front: list[T] = []
    best_so_far = None  # accuracy of the front's last point (the best among all cheaper or equal ones)
    last_cost = None
    for item in ordered:
        acc, c = accuracy(item), cost(item)
        if best_so_far is None or acc > best_so_far or (acc == best_so_far and c == last_cost):
            front.append(item)
            best_so_far, last_cost = acc, c
    return front


def quality(child) -> float | None:
    """Higher is better: validation accuracy, or minus perplexity for a language model."""
    if child.metric is None:
        return None
    return child.metric if (child.metric_name or "").endswith("accuracy") else -child.metric


def child_front(children, cost_name: CostName):
    """The front of a run's trained children (done) on validation metric and `cost_name`."""
    done = [c for c in children if c.status == "done"]
    return pareto_front(done, quality, lambda c: getattr(c, cost_name))


def export_command(run: Path, child_id: int) -> str:
    """The command that writes child `child_id` of `run` as PyTorch source (listed beside each front child)."""
    return f"nascli export {shlex.quote(str(run))} --child {child_id} -o child-{child_id}.py"
