"""Architecture: one sampled child as plain records (arch.json).

Builders read these records and never the token text (as timm builds modules
from decoded block dicts). `tokens` is the canonical form: the records are
derived from it, and `nascli.arch.decode(arch.tokens)` gives back this object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..space.ir import Value

# 2: a layer's params also hold the layer settings its op honours without declaring them (stride, filters,
# merge: nascli.ops.LAYER_SETTINGS); an arch.json of schema 1 recorded only what the op declares.
SCHEMA_VERSION = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layer(_Record):
    """A conv-network layer: `op` with its `params` (what the op reads, and the layer's stride, width and
    merge where the layer sets them), reading `inputs` (earlier layers; [] = image)."""

    index: int
    op: str
    params: dict[str, Value]
    inputs: list[int]


class TreeNode(_Record):
    """A NAS tree-cell node; leaves (no children) combine W.x_t and W.h_{t-1}."""

    index: int
    combine: str
    activation: str
    children: list[int]


class Inject(_Record):
    combine: str
    activation: str


class CellIndex(_Record):
    out: int  # node whose pre-activation output becomes c_t
    inject: int  # node whose output c_{t-1} is injected into


class TreeCell(_Record):
    base: int
    nodes: list[TreeNode]  # the last node is the root: its output is h_t
    inject: Inject | None = None
    cell_index: CellIndex | None = None


class DagNode(_Record):
    """An ENAS recurrent node: reads node `prev` (None: x_t and h_{t-1})."""

    index: int
    prev: int | None
    activation: str


class CellNode(_Record):
    """An ENAS micro-cell node: left_op(node left) + right_op(node right)."""

    index: int
    left: int
    left_op: str
    right: int
    right_op: str


class Cell(_Record):
    name: str
    inputs: int  # nodes 0..inputs-1 are the previous cells' outputs
    stride: int
    nodes: list[CellNode]


class CellStack(_Record):
    """How the cells are stacked: `stages` of `repeat` normal cells, a reduction cell between stages."""

    stages: int
    repeat: int
    width: int  # of the first stage; doubled by each reduction
    stem: int  # channels of the 3x3 stem conv


class DenseEdge(_Record):
    """One edge of a dense cell: node `target` adds op(node `source`)."""

    source: int
    target: int
    op: str


class DenseCell(_Record):
    """A dense cell and the network it is stacked into (NAS-Bench-201's layout)."""

    name: str
    nodes: int  # node 0 is the cell's input, the last node its output
    stages: int
    repeat: int  # cells per stage
    width: int  # channels of the first stage; doubled by each reduction between stages
    edges: list[DenseEdge]


class Architecture(_Record):
    schema_version: Literal[1, 2] = SCHEMA_VERSION
    space: str
    space_hash: str  # sha256 of the space file's text
    tokens: str
    task: Literal["image", "language", "tabular"]
    hyper: dict[str, Value] = {}
    layers: list[Layer] | None = None
    tree: TreeCell | None = None
    dag: list[DagNode] | None = None
    cells: list[Cell] | None = None
    cell_stack: CellStack | None = None  # None: the micro child's configured layout (ENAS search: 3 x 2, 20 wide)
    dense: DenseCell | None = None

    @property
    def depth(self) -> int:
        """Layers, or nodes of the cell(s): how big the child is, for tables."""
        if self.layers is not None:
            return len(self.layers)
        if self.tree is not None:
            return len(self.tree.nodes)
        if self.dag is not None:
            return len(self.dag)
        if self.dense is not None:
            return self.dense.nodes
        return sum(len(c.nodes) for c in self.cells or [])
