"""Uniformly random architectures: the `random` strategy, `nascli sample`, and evolution's new draws.

Uniform over architectures, not over each decision: a branch is taken in
proportion to how many architectures lie under it (conv_pool's conv branch has
192 settings per layer, max_pool's 4).
"""

from __future__ import annotations

import random

from ..space.compiler import CompiledSpace, Decision, branch_count
from ..space.ir import ChoiceDecl
from .build import architecture
from .records import Architecture
from .tokens import Assignment, is_active


def _draw(d: Decision, branching: ChoiceDecl | None, n_candidates: int, rng: random.Random):
    """One decision's value, uniformly over the architectures under it."""
    if d.kind == "choice":
        weights = [branch_count(branching, str(o.value), n_candidates) for o in d.options] if branching else None
        return rng.choices(d.options, weights=weights)[0].value
    if d.kind == "anchor":
        return tuple(c for c in d.candidates if rng.random() < 0.5)
    return rng.choice(d.candidates)


def sample_group(compiled: CompiledSpace, b: int, g: int, rng: random.Random, keep: Assignment | None = None,
                 changed: str | None = None) -> Assignment:
    """Group `g` of block `b`: every decision that exists, drawn uniformly.

    With `keep`, a decision takes its value from `keep` instead, unless it is not
    there or it lies under decision `changed` (by name; a branch whose value
    changed): those are drawn anew, and so is everything under them.
    """
    plan = compiled.blocks[b]
    branching = {d.name: d for d in plan.decls if isinstance(d, ChoiceDecl) and d.branches}
    n_candidates = len(plan.candidates(g))
    out: Assignment = {}
    chosen: dict = {}
    redrawn = {changed} if changed is not None else set()
    for d in compiled.group_decisions(b, g):
        if not is_active(d, chosen):
            continue
        if keep is None or d.path not in keep or (d.condition is not None and d.condition[0] in redrawn):
            value = _draw(d, branching.get(d.name), n_candidates, rng)
            redrawn.add(d.name)
        else:
            value = keep[d.path]
        out[d.path] = chosen[d.name] = value
    return out


def sample_assignment(compiled: CompiledSpace, rng: random.Random, depth: int | None = None) -> Assignment:
    depth = depth if depth is not None else compiled.max_depth
    out: Assignment = {}
    for b, plan in enumerate(compiled.blocks):
        for g in range(compiled.group_count(plan, depth)):
            out.update(sample_group(compiled, b, g, rng))
    return out


def sample_architecture(compiled: CompiledSpace, rng: random.Random, depth: int | None = None) -> Architecture:
    return architecture(compiled, sample_assignment(compiled, rng, depth), depth)
