"""Proposing children under hard limits: the one place every strategy's samples are checked.

A strategy that `redraws` (random, evolution) draws one child at a time and draws
again while a draw is over a limit, up to `Constraints.retries` draws per child;
each refused draw is kept, to be recorded with its cost. A strategy that does not
(reinforce) keeps its m samples and the refused ones get `refused_reward`, so
that the controller learns where the boundary lies. The draws are a function of
the strategy's state and the costs, which are deterministic (latency is cached in
the run store), so a proposal replayed on resume refuses exactly what it refused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from ..arch import Architecture
from ..arch.sample import sample_assignment
from ..arch.tokens import Assignment
from ..errors import RunError
from .constraints import Cost
from .cost import Coster

FIT_SAMPLE = 200  # architectures drawn uniformly to estimate how many fit, when none could be found


@dataclass(frozen=True)
class Proposal:
    assignment: Assignment
    arch: Architecture
    cost: Cost | None  # None: the search has no limits (costs are counted when the child trains)
    refused: str | None = None  # why it is over a limit


def propose_within(strategy, m: int, depth: int | None, build: Callable[[Assignment], Architecture],
                   coster: Coster | None, compiled=None) -> list[Proposal]:
    """m children to train (and, before each, the draws refused for it), as `strategy` proposes them."""
    if coster is None:
        return [Proposal(a, build(a), None) for a in strategy.propose(m, depth)]
    if not strategy.redraws:
        return [Proposal(a, arch, *coster.refusal(arch)) for a in strategy.propose(m, depth) for arch in [build(a)]]
    proposals: list[Proposal] = []
    for _ in range(m):
        for _draw in range(coster.constraints.retries):
            (assignment,) = strategy.propose(1, depth)
            arch = build(assignment)
            proposals.append(Proposal(assignment, arch, *coster.refusal(arch)))
            if proposals[-1].refused is None:
                break
        else:
            raise RunError(no_fit_message(coster, compiled, depth, build))
    return proposals


def fit_estimate(coster: Coster, compiled, depth: int | None, build: Callable[[Assignment], Architecture],
                 n: int = FIT_SAMPLE, seed: int = 0) -> tuple[int, int]:
    """(architectures that fit, drawn): `n` drawn uniformly from the space, seeded."""
    rng = random.Random(seed)
    fits = sum(coster.refusal(build(sample_assignment(compiled, rng, depth)))[1] is None for _ in range(n))
    return fits, n


def no_fit_message(coster: Coster, compiled, depth: int | None, build) -> str:
    limits = coster.constraints.describe()
    n = FIT_SAMPLE if not coster.constraints.needs_latency else FIT_SAMPLE // 10  # timing each one is slow
    fits, drawn = fit_estimate(coster, compiled, depth, build, n)
    share = f"about {fits} of {drawn} architectures drawn uniformly from the space fit ({100 * fits / drawn:.1f}%)"
    advice = "loosen the limit" if fits == 0 else "loosen the limit, or use --strategy random, which draws uniformly"
    return (f"no architecture within {limits} in {coster.constraints.retries} draws; {share}: {advice}")
