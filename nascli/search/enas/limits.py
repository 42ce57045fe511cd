"""The run's hard limits and `--objective` as ENAS applies them to the children it samples (docs/budgets.md).

What is checked is the *child's* cost (the sub-network a sample picks, counted as a child trained from
scratch would be, on the meta device), not the super-network's. The same children are sampled again
and again, so each token string's cost is counted once per process and then read from a dict; latency
is cached in the run store as for every strategy. Where a child over a limit goes:

- shared-weights training (phase a) and deriving draw it again from the same policy and the same seeded
  generator, up to `Constraints.retries` draws per child, then stop with exit 2 and the fit estimate
  (`budget.propose.no_fit_message`), as random and evolution do;
- a controller step (phase b) keeps it with `refused_reward`, as reinforce does, so that the policy
  learns where the boundary lies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...arch import Architecture, architecture
from ...budget import Constraints, Cost
from ...budget.cost import Coster, search_coster
from ...budget.propose import no_fit_message
from ...errors import RunError
from ...space.compiler import CompiledSpace


@dataclass
class Slot:
    """One child the search wanted, and the draws refused before it."""

    arch: Architecture
    cost: Cost
    refused: list[tuple[Architecture, Cost, str]] = field(default_factory=list)


class ChildLimits:
    """The limits of an ENAS run, with each sampled child's cost cached by token string."""

    def __init__(self, coster: Coster, compiled: CompiledSpace, depth: int | None):
        self.coster, self.compiled, self.depth = coster, compiled, depth
        self._seen: dict[str, tuple[Cost, str | None]] = {}

    @property
    def constraints(self) -> Constraints:
        return self.coster.constraints

    def refusal(self, arch: Architecture) -> tuple[Cost, str | None]:
        """The child's cost and why it is refused (None: it fits)."""
        seen = self._seen.get(arch.tokens)
        if seen is None:
            seen = self._seen[arch.tokens] = self.coster.refusal(arch)
        return seen

    def factor(self, arch: Architecture) -> float:
        """`--objective`'s (cost / target)^w for a child within the limits (1 without one)."""
        return self.constraints.objective_factor(self.refusal(arch)[0])

    def within(self, archs: list[Architecture], redraw: Callable[[int], list[Architecture]]) -> list[Slot]:
        """Each of `archs`, or, while it is over a limit, another of `redraw(k)`'s k new draws (one round
        for all the slots still over); RunError with the fit estimate after `retries` draws for one slot."""
        slots = [Slot(a, *self._fit(a)) for a in archs]
        still = [s for s in slots if s.refused]
        for _round in range(1, self.constraints.retries):
            if not still:
                return slots
            for slot, arch in zip(still, redraw(len(still))):
                slot.arch, slot.cost = arch, self.refusal(arch)[0]
                slot.refused += self._fit(arch)[1]
            still = [s for s in still if self.refusal(s.arch)[1] is not None]
        if still:
            raise RunError(no_fit_message(self.coster, self.compiled, self.depth,
                                          lambda a: architecture(self.compiled, a, self.depth)))
        return slots

    def _fit(self, arch: Architecture) -> tuple[Cost, list[tuple[Architecture, Cost, str]]]:
        cost, reason = self.refusal(arch)
        return cost, [] if reason is None else [(arch, cost, reason)]


def enas_limits(config, compiled: CompiledSpace, store, task, depth: int | None) -> ChildLimits | None:
    """The run's limits (None when it has neither a limit nor an objective); the coster is every
    strategy's (`budget.cost.search_coster`)."""
    coster = search_coster(config, store, task, trains_each=False)
    return None if coster is None else ChildLimits(coster, compiled, depth)
