"""Uniformly random architectures: the `random` strategy, `nascli sample`, and evolution's new draws.

Uniform over architectures, not over each decision: a branch is taken in
proportion to how many architectures lie under it (conv_pool's conv branch has
192 settings per layer, max_pool's 4), and so is a stage's depth.
"""

from __future__ import annotations

import random

from ..space.compiler import BlockPlan, CompiledSpace, Decision, branch_count
from ..space.ir import ChoiceDecl
from .build import architecture
from .records import Architecture
from .tokens import Assignment, is_active


def _draw(compiled: CompiledSpace, plan: BlockPlan, d: Decision, branching: ChoiceDecl | None,
          rng: random.Random):
    """One decision's value, uniformly over the architectures under it."""
    if d.kind == "choice":
        weights = [branch_count(branching, str(o.value), len(plan.candidates(d.group))) for o in d.options] \
            if branching else None
        if plan.kind == "stage" and d.name == "depth":  # a stage's depth: as many as lie under each
            weights = compiled.depth_weights(d.block)
        return rng.choices(d.options, weights=weights)[0].value
    if d.kind == "anchor":
        return tuple(c for c in d.candidates if rng.random() < 0.5)
    return rng.choice(d.candidates)


def _group(compiled: CompiledSpace, b: int, g: int, rng: random.Random, keep: Assignment | None,
           changed: Decision | None) -> Assignment:
    """Group `g` of block `b`: every decision that exists, drawn, or taken from `keep` where it is there
    and does not lie under `changed` (a branch whose value changed: what lies under it is drawn anew)."""
    plan = compiled.blocks[b]
    branching = {d.name: d for d in plan.decls if isinstance(d, ChoiceDecl) and d.branches}
    redrawn = {changed.name} if changed is not None and (changed.block, changed.group) == (b, g) else set()
    out: Assignment = {}
    chosen: dict = {}
    for d in compiled.group_decisions(b, g):
        if not is_active(d, chosen):
            continue
        if keep is None or d.path not in keep or (d.condition is not None and d.condition[0] in redrawn):
            value = _draw(compiled, plan, d, branching.get(d.name), rng)
            redrawn.add(d.name)
        else:
            value = keep[d.path]
        out[d.path] = chosen[d.name] = value
    return out


def sample_assignment(compiled: CompiledSpace, rng: random.Random, depth: int | None = None,
                      keep: Assignment | None = None, changed: Decision | None = None) -> Assignment:
    """Every decision that exists at `depth`, drawn uniformly.

    With `keep` (an assignment, perhaps at another depth), a decision that exists
    takes its value from `keep` unless it is not there or lies under decision
    `changed`; a stage's layers follow its depth as kept (new ones drawn, the
    rest gone). Without `keep`, the draws are `nascli sample`'s for the seed.
    """
    depth = depth if depth is not None else compiled.max_depth
    out: Assignment = {}
    for b in range(len(compiled.blocks)):
        for g in range(compiled.groups_in(b, depth, out)):
            out.update(_group(compiled, b, g, rng, keep, changed))
    return out


def sample_architecture(compiled: CompiledSpace, rng: random.Random, depth: int | None = None) -> Architecture:
    return architecture(compiled, sample_assignment(compiled, rng, depth), depth)
