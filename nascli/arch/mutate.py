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
A decision lifted into op branches (a `kernel` only `mbconv` reads) is such a
branch's decision: when the op changes, it is drawn anew with the new branch's
others. Tied values and fixed settings (`merge = sum`) are no decisions: they
follow their source or the space when the child is built; a decided `merge` is
a choice like any other.

A stage section's decisions (`stage { depth: ... filters: ... }`) are made once
per stage, so mutating a stage's width or stride is one decision however many
layers it has. Mutating a stage's depth adds or removes layers at the stage's
end: layers it keeps are the parent's, new ones are drawn as `random` draws
them, removed ones are gone with their decisions (the layers exist under the
depth as a branch's decisions exist under its op).

Depth schedules: a parent sampled at an earlier, shallower depth is first
extended to the child's depth with uniformly drawn layers (their anchors may
read any earlier layer, inherited ones included), then mutated as above among
its inherited decisions. The schedule never shrinks, so the child is never
shallower than its parent.
"""

from __future__ import annotations

import random

from ..space.compiler import CompiledSpace, Decision
from .sample import sample_assignment
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


def mutate(compiled: CompiledSpace, parent: Assignment, parent_depth: int | None, depth: int | None,
           rng: random.Random) -> Assignment:
    """The child of `parent` (sampled at `parent_depth`) at `depth`: one decision changed.

    A space whose every decision has a single value has no other architecture:
    the child is then the parent's copy.
    """
    if compiled.depths and _layers(compiled, depth) < _layers(compiled, parent_depth):
        raise ValueError(f"a parent of {parent_depth} layers cannot have a child of {depth}: schedules only grow")
    child = sample_assignment(compiled, rng, depth, keep=parent)  # the parent, a schedule's new layers drawn
    mutable = [d for groups in active_decisions(compiled, child, depth) for group in groups for d in group
               if d.size > 1 and d.path in parent]
    if not mutable:
        return child
    target = rng.choice(mutable)
    keep = {**child, target.path: other_value(target, child[target.path], rng)}
    return sample_assignment(compiled, rng, depth, keep=keep, changed=target)
