"""One-decision mutations: how regularised evolution makes a child from its parent.

The child is a copy of the parent with one decision, drawn uniformly among the
parent's decisions that have another value, changed to another allowed value:

- a choice: another of its values, uniformly (NAS-Bench-201's own REA changes one
  edge's op to another op this way);
- an anchor (a skip set): one candidate layer flipped in or out. The subset's
  nearest neighbours differ in one layer; a uniform draw among all other
  subsets would change half of them on average, a random restart rather than
  a mutation;
- an index: another of its candidate nodes, uniformly.

A decision that has branches (conv_pool's layer type) takes another value, and
the decisions of the branch it now takes (`Decision.condition`) are drawn
uniformly, as `random` draws them; decisions of the branch it left are gone.
Tied values are no decisions: they follow their source when the child is built.

Depth schedules: a parent sampled at an earlier, shallower depth is first
extended to the child's depth with uniformly drawn layers (their anchors may
read any earlier layer, inherited ones included), then mutated as above among
its inherited decisions. The schedule never shrinks, so the child is never
shallower than its parent.
"""

from __future__ import annotations

import random

from ..space.compiler import CompiledSpace, Decision
from .sample import sample_group
from .tokens import Assignment, active_decisions


def other_value(d: Decision, value, rng: random.Random):
    """A value of `d` other than `value` (see the module docstring); `d.size` must be at least 2."""
    if d.kind == "choice":
        return rng.choice([o.value for o in d.options if o.value != value])
    if d.kind == "anchor":
        return tuple(sorted(set(value) ^ {rng.choice(d.candidates)}))
    return rng.choice([c for c in d.candidates if c != value])


def _layers(compiled: CompiledSpace, depth: int | None) -> int:
    return depth if depth is not None else compiled.max_depth


def _extend(compiled: CompiledSpace, parent: Assignment, parent_depth: int | None, depth: int | None,
            rng: random.Random) -> tuple[Assignment, list[int]]:
    """The parent's groups as they are, new layers drawn; also each block's number of inherited groups."""
    child: Assignment = {}
    inherited = []
    for b, plan in enumerate(compiled.blocks):
        had = compiled.group_count(plan, parent_depth)
        inherited.append(had)
        for g in range(compiled.group_count(plan, depth)):
            child.update(sample_group(compiled, b, g, rng, keep=parent if g < had else None))
    return child, inherited


def mutate(compiled: CompiledSpace, parent: Assignment, parent_depth: int | None, depth: int | None,
           rng: random.Random) -> Assignment:
    """The child of `parent` (sampled at `parent_depth`) at `depth`: one decision changed.

    A space whose every decision has a single value has no other architecture:
    the child is then the parent's copy.
    """
    if compiled.depths and _layers(compiled, depth) < _layers(compiled, parent_depth):
        raise ValueError(f"a parent of {parent_depth} layers cannot have a child of {depth}: schedules only grow")
    child, inherited = _extend(compiled, parent, parent_depth, depth, rng)
    mutable = [d for b, groups in enumerate(active_decisions(compiled, child, depth))
               for group in groups[:inherited[b]] for d in group if d.size > 1]
    if not mutable:
        return child
    target = rng.choice(mutable)
    keep = {**child, target.path: other_value(target, child[target.path], rng)}
    redrawn = sample_group(compiled, target.block, target.group, rng, keep=keep, changed=target.name)
    stale = {d.path for d in compiled.group_decisions(target.block, target.group)}
    return {**{k: v for k, v in child.items() if k not in stale}, **redrawn}
