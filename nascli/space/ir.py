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


class FixedDecl(BaseModel):
    """A value that is set, not searched: no controller step, no token."""

    kind: Literal["fixed"] = "fixed"
    name: str
    value: Value
    pos: Pos


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
    """A stack of layers (NAS conv, ENAS macro); the same decisions per layer."""

    kind: Literal["layers"] = "layers"
    max_layers: int
    schedule: Schedule | None = None
    decisions: list[DecisionDecl]
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


Block = Annotated[
    Union[HyperBlock, LayersBlock, TreeBlock, DagBlock, CellBlock], Field(discriminator="kind")
]


class SearchSpace(BaseModel):
    """A whole space file."""

    name: str
    source: str  # the file it came from, for messages
    sha256: str  # of the file's text: arch.json records it
    settings: dict[str, Value] = Field(default_factory=dict)
    requires: list[Option] = Field(default_factory=list)  # plugin names (`requires NAME`), as written
    blocks: list[Block]
