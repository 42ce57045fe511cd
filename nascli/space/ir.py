"""The search-space IR: what a space file means, as typed pydantic records.

Produced by `nascli.space.parse`; consumed by the compiler. Every record keeps
the line and column it came from so that later stages can point at the source.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

# A value as the user wrote it in a choice list: an int, a float or a name.
Value = Union[int, float, str]


class Pos(BaseModel):
    model_config = ConfigDict(frozen=True)
    line: int
    column: int


class Option(BaseModel):
    """One value of a choice list, with the text the user typed (used as its token)."""

    model_config = ConfigDict(frozen=True)
    value: Value
    text: str
    pos: Pos | None = Field(default=None, exclude=True)  # where it was written, for errors


class ChoiceDecl(BaseModel):
    """A categorical decision. `branches` holds decisions that exist only under one value."""

    kind: Literal["choice"] = "choice"
    name: str
    options: list[Option]
    branches: dict[str, list["DecisionDecl"]] = Field(default_factory=dict)
    pos: Pos


class AnchorDecl(BaseModel):
    """A set of earlier layers feeding this one (the paper's anchor point)."""

    kind: Literal["anchor"] = "anchor"
    name: str
    pos: Pos


class IndexDecl(BaseModel):
    """The index of one earlier node."""

    kind: Literal["index"] = "index"
    name: str
    pos: Pos


class SkipOffsets(BaseModel):
    """`skip = {1, 3}`: a fixed set of layers to read, counted back from the layer (1 = the layer before).

    Relative, not absolute, because a `layers` block makes the same decisions for every layer.
    """

    model_config = ConfigDict(frozen=True)
    offsets: tuple[int, ...]


class FixedDecl(BaseModel):
    """A value that is set, not searched: no controller step, no token.

    `tied`: `value` names an earlier decision in scope, whose value this one
    takes (`filter_width = filter_height`: a square kernel, not a new decision).
    """

    kind: Literal["fixed"] = "fixed"
    name: str
    value: Union[SkipOffsets, Value]
    pos: Pos
    tied: bool = False


DecisionDecl = Annotated[
    Union[ChoiceDecl, AnchorDecl, IndexDecl, FixedDecl], Field(discriminator="kind")
]
ChoiceDecl.model_rebuild()


class Section(BaseModel):
    """A named group of decisions made once per block (a tree's inject, cell_index)."""

    name: str
    decisions: list[DecisionDecl]
    pos: Pos


class Schedule(BaseModel):
    """Depth schedule: `start` layers, `grow` more every `every` sampled children."""

    start: int
    grow: int
    every: int
    pos: Pos

    def depth(self, samples: int, max_layers: int) -> int:
        return min(max_layers, self.start + self.grow * (samples // self.every))


class HyperBlock(BaseModel):
    """Training hyper-parameters the controller predicts."""

    kind: Literal["hyper"] = "hyper"
    decisions: list[DecisionDecl]
    pos: Pos


class LayersBlock(BaseModel):
    """A stack of layers (NAS conv, ENAS macro); the same decisions per layer.

    `stage`: its `stage { ... }` section, decisions made once for the whole stack (a stage): its
    `depth` (how many of the `max_layers` layers it has), and settings every layer takes (`filters`;
    `stride`, which only the stage's first layer takes; an op parameter every op reads)."""

    kind: Literal["layers"] = "layers"
    max_layers: int
    schedule: Schedule | None = None
    decisions: list[DecisionDecl]
    stage: Section | None = None
    pos: Pos

    def depths(self) -> list[int]:
        """Every depth the schedule reaches, shallowest first."""
        if self.schedule is None:
            return [self.max_layers]
        out, d = [], self.schedule.start
        while d < self.max_layers:
            out.append(d)
            if self.schedule.grow <= 0:
                return out
            d += self.schedule.grow
        return out + [self.max_layers]


class TreeBlock(BaseModel):
    """The NAS recurrent tree cell: `base` leaves, 2*base-1 nodes."""

    kind: Literal["tree"] = "tree"
    base: int
    decisions: list[DecisionDecl]
    sections: list[Section]
    pos: Pos

    @property
    def node_count(self) -> int:
        return 2 * self.base - 1

    def children(self) -> list[list[int]]:
        """Each node's two children; leaves (nodes 0..base-1) have none.

        Nodes pair up level by level, left to right (base 8: 8=(0,1) ... 14=(12,13));
        an odd node out moves up a level, so any base >= 2 makes one tree.
        """
        kids: list[list[int]] = [[] for _ in range(self.base)]
        level = list(range(self.base))
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                kids.append([level[i], level[i + 1]])
                nxt.append(len(kids) - 1)
            level = nxt + level[len(level) - len(level) % 2 :]
        return kids


class DagBlock(BaseModel):
    """The ENAS recurrent DAG cell: each node reads one earlier node."""

    kind: Literal["dag"] = "dag"
    nodes: int
    decisions: list[DecisionDecl]
    pos: Pos


class CellBlock(BaseModel):
    """An ENAS micro cell: `inputs` input nodes, then nodes built from earlier ones."""

    kind: Literal["cell"] = "cell"
    name: str
    nodes: int
    inputs: int
    stride: int = 1
    decisions: list[DecisionDecl]
    pos: Pos


class DenseBlock(BaseModel):
    """A dense cell (NAS-Bench-201): node 0 is the cell's input; every edge i -> j (i < j) picks an op,
    node j sums its incoming edges, the last node is the output. `stages` x `repeat` cells make the
    network, `width` channels wide in the first stage, doubling at each reduction between stages."""

    kind: Literal["dense"] = "dense"
    name: str
    nodes: int
    stages: int
    repeat: int
    width: int
    decisions: list[DecisionDecl]
    pos: Pos

    def edges(self) -> list[tuple[int, int]]:
        """(source, target) per edge, by target then source: NAS-Bench-201's order."""
        return [(i, j) for j in range(1, self.nodes) for i in range(j)]


Block = Annotated[
    Union[HyperBlock, LayersBlock, TreeBlock, DagBlock, CellBlock, DenseBlock], Field(discriminator="kind")
]


class CellNetwork(BaseModel):
    """How a space's normal and reduction cells are stacked (`network stages S repeat R width W stem C`)."""

    stages: int
    repeat: int
    width: int
    stem: int
    pos: Pos = Field(exclude=True)


class SearchSpace(BaseModel):
    """A whole space file."""

    name: str
    source: str  # the file it came from, for messages
    sha256: str  # of the file's text: arch.json records it
    settings: dict[str, Value] = Field(default_factory=dict)
    requires: list[Option] = Field(default_factory=list)  # plugin names (`requires NAME`), as written
    network: CellNetwork | None = None  # None: the ENAS micro network's search-time layout
    blocks: list[Block]
