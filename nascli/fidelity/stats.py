"""Rank correlations between two scorings of the same children, with bootstrap intervals.

Kendall's τ-b and Spearman's ρ, both correct with ties (τ-b's tie terms; ρ as the
Pearson correlation of average ranks). The interval is a percentile bootstrap
over children (resampling (x, y) pairs with replacement) from a seeded
generator, so the same inputs and seed give the same interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import NamedTuple


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's τ-b; None when either side is constant (τ is undefined then)."""
    _same_length(x, y)
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = _sign(x[i] - x[j]), _sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue  # tied in both: counts in neither denominator term
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else None


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's ρ: Pearson's r of the average ranks; None when either side is constant."""
    _same_length(x, y)
    return _pearson(_ranks(x), _ranks(y))


class Interval(NamedTuple):
    """A statistic on the data and its bootstrap interval (None where undefined)."""

    value: float | None
    low: float | None
    high: float | None
    resamples: int  # resamples where the statistic was defined


def bootstrap(statistic: Callable[[Sequence[float], Sequence[float]], float | None], x: Sequence[float],
              y: Sequence[float], seed: int, resamples: int = 2000, confidence: float = 0.95) -> Interval:
    """`statistic(x, y)` and its percentile-bootstrap interval at `confidence`, from `random.Random(seed)`."""
    _same_length(x, y)
    value = statistic(x, y) if len(x) >= 2 else None
    rng = random.Random(seed)
    n = len(x)
    draws: list[float] = []
    for _ in range(resamples if n >= 2 else 0):
        picks = [rng.randrange(n) for _ in range(n)]
        drawn = statistic([x[i] for i in picks], [y[i] for i in picks])
        if drawn is not None:  # a resample of one repeated child has no ranking
            draws.append(drawn)
    if not draws:
        return Interval(value, None, None, 0)
    draws.sort()
    tail = (1 - confidence) / 2
    return Interval(value, _quantile(draws, tail), _quantile(draws, 1 - tail), len(draws))


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    at = q * (len(ordered) - 1)
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (at - below)


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _pearson(a: list[float], b: list[float]) -> float | None:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((p - mean_a) * (q - mean_b) for p, q in zip(a, b))
    var_a = sum((p - mean_a) ** 2 for p in a)
    var_b = sum((q - mean_b) ** 2 for q in b)
    return cov / math.sqrt(var_a * var_b) if var_a and var_b else None


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _same_length(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"two scorings of the same children, got {len(x)} and {len(y)} values")
