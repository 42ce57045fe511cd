"""A child's cost before it trains.

- Parameters and MACs: the child is built on the meta device from its architecture
  record and the dataset's input shape (no weights allocated, nothing trained) and
  counted as `children.profile` counts a real one (`MacCounter` works on meta tensors).
- On a benchmark table, the table's params and FLOPs columns are the costs.
- Latency: `latency.time_child` on the run's device; the figure kept is the slowest round's
  fastest pass (`Timing.high_ms`), so a child is within --max-latency only when every round
  says so, and then only at or below the limit less --latency-margin. Cached in the run store
  per architecture, device and batch, so a resume (and a replayed proposal) reads the same figure.
  With --latency-model table, predicted from the run's latency table; a search that trains each
  child it accepts then times the ones the table lets through (`screened_latency`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..arch import Architecture
from ..children import ChildConfig, build_child, profile_child
from ..data.base import Task
from .constraints import Constraints, Cost


def count_cost(arch: Architecture, task: Task, child: ChildConfig | None = None) -> Cost:
    """Parameters and MACs per example of `arch` for `task`, counted on the meta device."""
    with torch.device("meta"):
        model = build_child(arch, task, child)
        profile = profile_child(model, task)
    return Cost(params=profile.params, macs=profile.macs)


class Coster:
    """The cost of each architecture a search proposes, as its constraints need it.

    `count`: arch -> Cost (params and MACs); `latency`: arch -> ms, or None when no limit needs it.
    """

    def __init__(self, constraints: Constraints, count: Callable[[Architecture], Cost],
                 latency: Callable[[Architecture], float] | None = None):
        self.constraints, self._count, self._latency = constraints, count, latency

    def cost(self, arch: Architecture) -> Cost:
        counted = self._count(arch)
        # latency is timed only for what the counts let through: a child over the parameter limit is not built
        if self._latency is None or self.constraints.over(counted) is not None:
            return counted
        return Cost(counted.params, counted.macs, self._latency(arch))

    def refusal(self, arch: Architecture) -> tuple[Cost, str | None]:
        """The architecture's cost and why it is refused (None: it fits)."""
        cost = self.cost(arch)
        return cost, self.constraints.over(cost)


def table_cost(query) -> Callable[[Architecture], Cost]:
    """Costs from a benchmark table's `params` and FLOPs columns (millions, as NAS-Bench-201 has them)."""

    def count(arch: Architecture) -> Cost:
        seen = query.table.observe(query.benchmark.arch_key(arch), query.config.dataset, query.config.fidelity)
        return Cost(params=None if seen.params_m is None else round(seen.params_m * 1e6),
                    macs=None if seen.flops_m is None else round(seen.flops_m * 1e6))

    return count


def store_latency(store, task: Task, device: str, batch: int, child: ChildConfig | None = None
                  ) -> Callable[[Architecture], float]:
    """Latency per architecture on `device`, measured once and then read from the run store's cache: the
    slowest round's fastest pass, the figure a limit is checked against (latency.py says why)."""
    from .latency import LatencyConfig, time_child

    def latency(arch: Architecture) -> float:
        cached = store.cached_latency(arch.tokens, device, batch)
        if cached is None:
            cached = time_child(arch, task, device, LatencyConfig(batch=batch), child).high_ms
            store.record_latency(arch.tokens, device, batch, cached)
        return cached

    return latency


TABLE_FILE = "latency_table.json"  # a run's latency table (--latency-model table), in its folder
PREDICTED = "/table"  # appended to the device in the store's latency cache: the figure is a prediction


def table_latency(store, task: Task, device: str, batch: int, child: ChildConfig | None = None
                  ) -> Callable[[Architecture], float]:
    """Latency per architecture predicted from the run's latency table (kept as JSON in the run folder), and
    cached in the run store under `device + '/table'`, so a resume reads the figures the first run predicted."""
    from .latency import LatencyConfig
    from .latency_table import LatencyTable

    table = LatencyTable(task, device, LatencyConfig(batch=batch), child, path=Path(store.path) / TABLE_FILE)

    def latency(arch: Architecture) -> float:
        cached = store.cached_latency(arch.tokens, device + PREDICTED, batch)
        if cached is None:
            cached = table.predict(arch)
            store.record_latency(arch.tokens, device + PREDICTED, batch, cached)
        return cached

    return latency


def screened_latency(predict: Callable[[Architecture], float], measure: Callable[[Architecture], float],
                     limit_ms: float) -> Callable[[Architecture], float]:
    """The table screens, a timing confirms: an architecture predicted over `limit_ms` is refused on the
    prediction (never built or timed); one the table lets through is timed whole, and that figure is the one
    checked and recorded. The table's error (a median of 4-10%, a tail past 30%: docs/budgets.md) then
    costs timings, never a child trained over the limit."""

    def latency(arch: Architecture) -> float:
        predicted = predict(arch)
        return predicted if predicted > limit_ms else measure(arch)

    return latency


def search_coster(config, store, task: Task | None, query=None, trains_each: bool = True) -> Coster | None:
    """The coster of a search whose config has limits (None without): the benchmark table's columns,
    else counts on the meta device and, for --max-latency, timings on the run's device (or, with
    --latency-model table, predictions from the run's latency table, each accepted child then timed when
    the search trains each child it accepts; ENAS, whose shared training draws a child per step, passes
    `trains_each=False`: there the prediction decides)."""
    limits: Constraints = config.constraints
    if not limits.active:
        return None
    if query is not None:
        return Coster(limits, table_cost(query))
    latency = None
    if limits.needs_latency:
        timed = store_latency(store, task, config.device, limits.latency_batch, config.child)
        latency = timed
        if limits.latency_model == "table":
            predicted = table_latency(store, task, config.device, limits.latency_batch, config.child)
            screens = trains_each and limits.latency_limit_ms is not None
            latency = screened_latency(predicted, timed, limits.latency_limit_ms) if screens else predicted
    return Coster(limits, lambda arch: count_cost(arch, task, config.child), latency)
