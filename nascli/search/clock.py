"""The clock `--time-budget` reads: simulated on a benchmark, wall-clock on real training.

Simulated (a benchmark search): the sum of the recorded children's `seconds`,
each the training time its query charged. A child's cost is known before its
query (the table has it), so the search ends *before* the query that would
take the clock past the budget: that child is never queried and stays
`pending`, as the benchmark's own searches do it (NAS-Bench-201's
`if total_time + cost > budget: stop`). The sum is exact (`math.fsum`), so a
resumed search decides at the same child as an unbroken one.

Wall clock (a real search): the seconds the search has spent running, over
all its sessions (each session's time since it started, added to what earlier
sessions recorded in meta `elapsed_seconds`, rewritten with every child's
result, so a `kill -9` loses at most the time since the last recorded child).
A child's cost is not known before it trains, so the rule is: a child starts
only while the clock is within the budget. Children in flight when it passes
are trained to their end and recorded (`--child-timeout` bounds how long that
is); children not started stay `pending`.

Either way the controller step in progress is not updated with a partial
batch, and `nascli search --resume RUN --time-budget T` with a larger T goes
on exactly where the search stopped.
"""

from __future__ import annotations

import math
import time

from ..runs import RunStore

ELAPSED_META = "elapsed_seconds"


class SimulatedClock:
    """Seconds charged by the recorded children's queries."""

    simulated = True

    def __init__(self, store: RunStore, budget: float | None):
        self.budget = budget
        self.charged = [c.seconds for c in store.children() if c.status in ("done", "failed") and c.seconds]

    @property
    def elapsed(self) -> float:
        return math.fsum(self.charged)

    def allows(self, cost: float | None) -> bool:
        """Whether a query of `cost` seconds stays within the budget."""
        return self.budget is None or self.elapsed + (cost or 0.0) <= self.budget

    def charge(self, seconds: float) -> None:
        self.charged.append(seconds)

    def save(self) -> None:
        """Nothing to save: the children's rows are the clock."""


class WallClock:
    """Seconds the search has run, over all its sessions."""

    simulated = False

    def __init__(self, store: RunStore, budget: float | None):
        self.store, self.budget = store, budget
        self.before = store.meta_number(ELAPSED_META, float) or 0.0
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def allows(self, cost: float | None) -> bool:
        """Whether a child may start now: the clock has not passed the budget."""
        return self.budget is None or self.elapsed <= self.budget

    def charge(self, seconds: float) -> None:
        self.save()

    def save(self) -> None:
        self.store.set_meta(ELAPSED_META, repr(self.elapsed))


def make_clock(store: RunStore, budget: float | None, simulated: bool) -> SimulatedClock | WallClock:
    return SimulatedClock(store, budget) if simulated else WallClock(store, budget)
