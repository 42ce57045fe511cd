"""Uniformly random architectures: the `random` strategy and `nascli sample`.

Uniform over architectures, not over each decision: a branch is taken in
proportion to how many architectures lie under it (conv_pool's conv branch has
192 settings per layer, max_pool's 4), and so is a stage's depth.
"""

from __future__ import annotations

import random

from ..space.compiler import CompiledSpace, branch_count
from ..space.ir import ChoiceDecl
from .build import architecture
from .records import Architecture
from .tokens import Assignment


def sample_assignment(compiled: CompiledSpace, rng: random.Random, depth: int | None = None) -> Assignment:
    depth = depth if depth is not None else compiled.max_depth
    out: Assignment = {}
    for b, plan in enumerate(compiled.blocks):
        branching = {d.name: d for d in plan.decls if isinstance(d, ChoiceDecl) and d.branches}
        for g in range(compiled.groups_in(b, depth, out)):
            chosen: dict = {}
            n_cand = len(plan.candidates(g))
            for d in compiled.group_decisions(b, g):
                if d.condition is not None and str(chosen.get(d.condition[0])) != d.condition[1]:
                    continue
                if d.kind == "choice":
                    decl = branching.get(d.name)
                    weights = [branch_count(decl, str(o.value), n_cand) for o in d.options] if decl else None
                    if plan.kind == "stage" and d.name == "depth":  # a stage's depth: as many as lie under each
                        weights = compiled.depth_weights(b)
                    value = rng.choices(d.options, weights=weights)[0].value
                elif d.kind == "anchor":
                    value = tuple(c for c in d.candidates if rng.random() < 0.5)
                else:
                    value = rng.choice(d.candidates)
                out[d.path] = chosen[d.name] = value
    return out


def sample_architecture(compiled: CompiledSpace, rng: random.Random, depth: int | None = None) -> Architecture:
    return architecture(compiled, sample_assignment(compiled, rng, depth), depth)
