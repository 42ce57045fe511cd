"""Regularised ("aging") evolution, Real et al. (AAAI 2019), as a search strategy.

Algorithm 1 of the paper, as NAS-Bench-201's and NATS-Bench's REA run it
(`exps/NATS-algos/regularized_ea.py`): the first P children are uniformly
random; after that each child is the mutation (arch/mutate.py) of a tournament's
winner: S members drawn from the population at random, with replacement, the
one with the highest reward the parent. Each finished child joins the
population and, once it holds more than P, the oldest member dies (age, not
reward, decides who leaves).

Batches and asynchronous updates: `propose(m)` runs m tournaments on the
population as it stands; children join it when the loop hands them to
`update` (a synchronous step's children in id order) or `update_async` (in the
order they finished, `(finished, id)`, which the run store keeps, so a resumed
search rebuilds the same population). A child is random while fewer than P
have been proposed, or while no child has finished yet (more workers than P).

A child whose token string was seen before is trained again: each training is
a new measurement (another seed), and the paper's point is that an
architecture stays in the population only by scoring well again. Failed
children join with the reward they were given (`--failed-reward`) and age out
like any other.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..arch.mutate import mutate
from ..arch.sample import sample_assignment
from ..arch.tokens import Assignment, decode_tokens, encode
from ..errors import TokenError
from ..space.compiler import CompiledSpace
from .strategies import random_state, set_random_state


class EvolutionConfig(BaseModel):
    """P and S. Defaults: NAS-Bench-201's and NATS-Bench's REA scripts (`--ea_population 10
    --ea_sample_size 3`), sized for the ~150 queries of a 12,000 s benchmark search."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    population: int = Field(10, ge=1)  # P: members kept; also the number of random children first
    tournament_size: int = Field(3, ge=1)  # S: members drawn (with replacement) per tournament


class EvolutionStrategy:
    """Population, tournaments and aging; learns nothing else. State: plain lists and numbers."""

    redraws = True  # a child over a --max-* limit is drawn (mutated) again: budget/propose.py

    def __init__(self, compiled: CompiledSpace, seed: int, config: EvolutionConfig):
        self.compiled, self.config = compiled, config
        self.rng = random.Random(seed)
        self.population: list[list] = []  # [tokens, reward], oldest first
        self.proposed = 0

    def _child(self, depth: int | None) -> Assignment:
        if self.proposed < self.config.population or not self.population:
            return sample_assignment(self.compiled, self.rng, depth)
        tournament = [self.rng.choice(self.population) for _ in range(self.config.tournament_size)]
        parent_tokens = max(tournament, key=lambda member: member[1])[0]  # the first drawn wins a tie
        parent, parent_depth = decode_tokens(self.compiled, parent_tokens)
        return mutate(self.compiled, parent, parent_depth, depth, self.rng)

    def propose(self, m: int, depth: int | None) -> list[Assignment]:
        children = []
        for _ in range(m):
            children.append(self._child(depth))
            self.proposed += 1
        return children

    def _join(self, assignment: Assignment, depth: int | None, reward: float) -> None:
        self.population.append([encode(self.compiled, assignment, depth), float(reward)])
        del self.population[:-self.config.population]  # the oldest die

    def update(self, assignments, depth, rewards) -> None:
        for assignment, reward in zip(assignments, rewards):
            self._join(assignment, depth, reward)

    def log_probs(self, assignments, depth) -> None:
        return None

    def update_async(self, assignments, depths, rewards, behaviour) -> None:
        for assignment, depth, reward in zip(assignments, depths, rewards):
            self._join(assignment, depth, reward)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": random_state(self.rng), "population": [list(m) for m in self.population],
                "proposed": self.proposed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_random_state(self.rng, state["rng"])
        population = [[str(tokens), float(reward)] for tokens, reward in state["population"]]
        for tokens, _ in population:  # another space's run: refused now, not at the first tournament
            try:
                decode_tokens(self.compiled, tokens)
            except TokenError as err:
                raise ValueError(f"a population member is not of space '{self.compiled.name}': {err}") from None
        self.population = population
        self.proposed = int(state["proposed"])
