"""SearchSpace IR -> the ordered decisions a controller makes, and their count.

A space is a list of token *blocks* (hyper, layers, tree nodes, inject, ...);
each block is a list of *groups* (one per layer or node); each group makes the
same decisions. `CompiledSpace.decisions(depth)` lists them in controller order,
each with the earlier layers/nodes it may pick and the condition it exists under.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .conditions import lift_conditional
from .ir import ChoiceDecl, FixedDecl, Option, SearchSpace, Value


class Decision(BaseModel):
    """One controller step."""

    model_config = ConfigDict(frozen=True)

    path: str  # unique, e.g. "layers[3].filters", "cell_index.out"
    block: int  # token block it belongs to
    group: int  # layer / node number within the block
    name: str
    kind: Literal["choice", "anchor", "index"]
    options: tuple[Option, ...] = ()  # choice: the values
    candidates: tuple[int, ...] = ()  # anchor / index: the earlier layers or nodes
    condition: tuple[str, str] | None = None  # (decision name in this group, value text)
    # A stage whose depth is decided: (the path of its `depth` decision, the least depth at which this layer
    # exists). Its layers beyond the depth picked, and their decisions, do not exist.
    stage_depth: tuple[str, int] | None = None
    head: str  # controller head that samples it; shared by every group of a block

    @property
    def size(self) -> int:
        """How many values this one decision can take."""
        if self.kind == "choice":
            return len(self.options)
        if self.kind == "anchor":
            return 2 ** len(self.candidates)
        return len(self.candidates)


class HeadSpec(BaseModel):
    """A controller output head: a softmax over `size` values, or attention over earlier states."""

    key: str
    kind: Literal["choice", "anchor", "index"]
    size: int  # choice heads: number of values; attention heads: 0


class BlockPlan(BaseModel):
    """One token block: `groups` groups (fewer at shallow depths for a scheduled block)."""

    label: str  # "hyper", "layers", "tree", "inject", "cell_index", "dag", or a cell's name
    kind: str  # the IR block kind it comes from
    ir_block: int
    groups: int
    node_offset: int = 0  # number of the first group's node (cells: after the inputs)
    variable: bool = False  # True for a layers block with a depth schedule
    decls: list  # the IR decisions each group makes (a layer's only under the ops that read them: conditions.py)
    written: list | None = None  # a layers block's decisions as written, when lifting moved some (old strings)
    depth: tuple[str, tuple[int, ...]] | None = None  # a stage's decided depth: (its decision's path, its values)
    candidates_all: int = -1  # index decisions pick among this many nodes (-1: earlier ones only)

    def candidates(self, group: int) -> tuple[int, ...]:
        if self.candidates_all >= 0:
            return tuple(range(self.candidates_all))
        return tuple(range(self.node_offset + group))


def _plans(space: SearchSpace) -> list[BlockPlan]:
    plans: list[BlockPlan] = []
    stages = 0  # layers blocks so far: stages after the first are labelled layers_2, layers_3, ...
    for i, block in enumerate(space.blocks):
        if block.kind == "hyper":
            plans.append(BlockPlan(label="hyper", kind="hyper", ir_block=i, groups=1, decls=block.decisions))
        elif block.kind == "layers":
            stages += 1
            plans += _layers_plans(block, i, "layers" if stages == 1 else f"layers_{stages}")
        elif block.kind == "tree":
            plans.append(BlockPlan(label="tree", kind="tree", ir_block=i, groups=block.node_count, decls=block.decisions))
            for sec in block.sections:
                plans.append(BlockPlan(label=sec.name, kind="tree", ir_block=i, groups=1, decls=sec.decisions,
                                       candidates_all=block.node_count))
        elif block.kind == "dense":  # one group per edge, each picking its op
            plans.append(BlockPlan(label=block.name, kind="dense", ir_block=i, groups=len(block.edges()),
                                   decls=block.decisions))
        elif block.kind == "dag":
            plans.append(BlockPlan(label="dag", kind="dag", ir_block=i, groups=block.nodes, decls=block.decisions))
        else:
            plans.append(BlockPlan(label=block.name, kind="cell", ir_block=i, groups=block.nodes - block.inputs,
                                   node_offset=block.inputs, decls=block.decisions))
    return plans


def _layers_plans(block, i: int, label: str) -> list[BlockPlan]:
    """A layers block's token blocks: its stage section's decisions (made once, first), then its layers."""
    decls = lift_conditional(block.decisions)
    layers = BlockPlan(label=label, kind="layers", ir_block=i, groups=block.max_layers,
                       variable=block.schedule is not None, decls=decls,
                       written=block.decisions if decls is not block.decisions else None)
    if block.stage is None:
        return [layers]
    stage = BlockPlan(label=f"{label}.stage", kind="stage", ir_block=i, groups=1, decls=block.stage.decisions)
    depth = next((d for d in block.stage.decisions if d.name == "depth"), None)
    if isinstance(depth, FixedDecl):  # a fixed depth is the stage's number of layers
        layers = layers.model_copy(update={"groups": int(depth.value)})
    elif depth is not None:
        layers = layers.model_copy(update={"depth": (_path(stage, 0, "depth"), tuple(o.value for o in depth.options))})
    return [stage, layers]


def _path(plan: BlockPlan, group: int, name: str) -> str:
    return f"{plan.label}.{name}" if plan.groups == 1 else f"{plan.label}[{group}].{name}"


class CompiledSpace:
    """A space's decisions, heads and cardinality; built once per space by `compile_space`."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.blocks = _plans(space)
        variable = [p for p in self.blocks if p.variable]
        layers = next((b for b in space.blocks if b.kind == "layers"), None)
        self.depths: list[int] = layers.depths() if variable else []

    @property
    def name(self) -> str:
        return self.space.name

    @property
    def max_depth(self) -> int | None:
        return self.depths[-1] if self.depths else None

    def depth_at(self, samples: int) -> int | None:
        """The depth the schedule allows after `samples` sampled children."""
        layers = next((b for b in self.space.blocks if b.kind == "layers"), None)
        if layers is None or layers.schedule is None:
            return None
        return layers.schedule.depth(samples, layers.max_layers)

    def group_count(self, plan: BlockPlan, depth: int | None) -> int:
        return depth if plan.variable and depth is not None else plan.groups

    @lru_cache(maxsize=None)
    def group_decisions(self, b: int, group: int, written: bool = False) -> tuple[Decision, ...]:
        """The decisions of group `group` of block `b`, branches included (with conditions).
        Cached: encoding, decoding and sampling ask for the same groups again and again.
        `written`: as the block was written, every decision unconditional (how token strings of
        earlier versions wrote a layer whose decisions only some ops read; see `BlockPlan.written`)."""
        plan = self.blocks[b]
        out: list[Decision] = []

        least = min(plan.depth[1]) if plan.depth else None
        stage_depth = (plan.depth[0], group + 1) if least is not None and group + 1 > least else None

        def visit(decls: list, condition: tuple[str, str] | None, branch: str) -> None:
            for decl in decls:
                if isinstance(decl, FixedDecl):
                    continue
                head = f"{plan.label}{branch}.{decl.name}"
                common = dict(path=_path(plan, group, decl.name), block=b, group=group, name=decl.name,
                              kind=decl.kind, condition=condition, stage_depth=stage_depth, head=head)
                if isinstance(decl, ChoiceDecl):
                    out.append(Decision(options=tuple(decl.options), **common))
                    for value, sub in decl.branches.items():
                        visit(sub, (decl.name, value), f"{branch}/{decl.name}={value}")
                else:
                    cands = plan.candidates(group)
                    if cands:  # a layer or node with nothing earlier to pick has no decision
                        out.append(Decision(candidates=cands, **common))

        visit(plan.written if written and plan.written is not None else plan.decls, None, "")
        return tuple(out)

    def decisions(self, depth: int | None = None) -> list[Decision]:
        """Every decision in controller order; `depth` limits a scheduled layers block."""
        depth = depth if depth is not None else self.max_depth
        out: list[Decision] = []
        for b, plan in enumerate(self.blocks):
            for group in range(self.group_count(plan, depth)):
                out.extend(self.group_decisions(b, group))
        return out

    @cached_property
    def heads(self) -> list[HeadSpec]:
        """One head per distinct `Decision.head`, in first-use order."""
        heads: dict[str, HeadSpec] = {}
        for d in self.decisions():
            if d.head not in heads:
                size = len(d.options) if d.kind == "choice" else 0
                heads[d.head] = HeadSpec(key=d.head, kind=d.kind, size=size)
        return list(heads.values())

    def groups_in(self, b: int, depth: int | None, chosen: dict) -> int:
        """How many groups block `b` has under the assignment `chosen` (by path) made so far: a stage's
        layers, as many as its depth picked."""
        plan = self.blocks[b]
        return int(chosen[plan.depth[0]]) if plan.depth else self.group_count(plan, depth)

    def depth_weights(self, b: int) -> list[int]:
        """Per value of the depth decision of stage block `b`: the architectures of its layers at that depth."""
        layers = self.blocks[b + 1]
        return [self._layer_count(layers, d) for d in layers.depth[1]]

    def _layer_count(self, plan: BlockPlan, groups: int) -> int:
        total = 1
        for group in range(groups):
            total *= _count(plan.decls, len(plan.candidates(group)))
        return total

    def cardinality(self, depth: int | None = None) -> int:
        """The exact number of distinct architectures (token strings) at `depth`."""
        depth = depth if depth is not None else self.max_depth
        total = 1
        for b, plan in enumerate(self.blocks):
            if plan.kind == "stage":  # its depth: the sum over depths of the layers' count
                total *= _count([d for d in plan.decls if d.name != "depth"], 0)
                nxt = self.blocks[b + 1]
                total *= sum(self.depth_weights(b)) if nxt.depth else 1
            elif not plan.depth:
                total *= self._layer_count(plan, self.group_count(plan, depth))
        return total

    def default_setting(self, key: str, fallback: Value | None = None) -> Value | None:
        return self.space.settings.get(key, fallback)


def branch_count(decl: ChoiceDecl, value_text: str, n_candidates: int) -> int:
    """Architectures of one group's branch: how often a uniform sampler should take it."""
    return _count(decl.branches.get(value_text, []), n_candidates)


def _count(decls: list, n_candidates: int) -> int:
    """Architectures one group can take: choices multiply, branches add."""
    total = 1
    for decl in decls:
        if decl.kind == "fixed":
            continue
        if decl.kind == "anchor":
            total *= 2**n_candidates
        elif decl.kind == "index":
            total *= max(n_candidates, 1)
        elif decl.branches:
            total *= sum(branch_count(decl, str(o.value), n_candidates) for o in decl.options)
        else:
            total *= len(decl.options)
    return total


def compile_space(space: SearchSpace) -> CompiledSpace:
    return CompiledSpace(space)


__all__ = ["Decision", "HeadSpec", "BlockPlan", "CompiledSpace", "compile_space"]
