"""ENAS micro child (NASNet-style cells) built from `Architecture.cells`.

Layout (ENAS `micro_child.py`, fixed-arc mode): a 3x3 stem conv + BN to
`stem_multiplier * filters` channels, then 3 stages of `cells_per_stage`
normal cells with a reduction cell between stages (a space's `network`
declaration, recorded as `arch.cell_stack`, sets the stages, cells per
stage, first width and stem width instead; a space's layers before its cells,
a plain chain, replace the stem conv); each reduction halves H and
W and doubles the width. ReLU -> global average pool -> dropout -> Linear.

A cell reads the outputs of the two previous cells (the stem's output twice
for the first cell). As ENAS `_maybe_calibrate_size` + `layer_base`: input 0
is factorized-reduced if it is larger than input 1, else 1x1-projected if its
width differs; input 1 always goes through ReLU -> 1x1 conv -> BN. Node k =
left_op(state[left]) + right_op(state[right]); in the reduction cell, ops on
the cell inputs (states 0, 1) use stride 2, and identity at stride 2 is a
factorized reduction. The loose ends (states no node reads, cell inputs
included, as ENAS; an unread input of a reduction cell is factorized-reduced to
fit) are concatenated and mapped back to the cell's width by ReLU -> 1x1 conv
-> BN (ENAS's `final_conv`), so every cell outputs exactly `width` channels.
No auxiliary head and no drop-path (ENAS's final-training extras).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..arch.records import Architecture, Cell, CellStack, Layer
from ..data.base import ImageTask
from ..errors import ChildError
from ..ops import OPS, make_op, out_size
from ..arch.wiring import layer_stride, layer_width
from .ops import ClassifierHead, FactorizedReduce, ReluConvBn


@dataclass(frozen=True)
class MicroConfig:
    filters: int = 20  # first stage's width; doubles at each reduction (ENAS: 20 searching, 36 final)
    cells_per_stage: int = 2  # normal cells per stage (ENAS: 2 searching, 5 final)
    stem_multiplier: int = 3  # stem width = stem_multiplier * filters (ENAS stem_conv)
    dropout: float = 0.0  # before the classifier (ENAS keep_prob 0.9 searching, 0.8 final)


Shape = tuple[int, int, int]  # (channels, height, width)


def _check_cell(cell: Cell) -> None:
    where = f"cell {cell.name}"
    if cell.inputs != 2:
        raise ChildError(f"a micro cell reads the two previous cells, not {cell.inputs}", where=where)
    if cell.stride not in (1, 2):
        raise ChildError(f"a micro cell has stride 1 or 2, not {cell.stride}", where=where)
    for pos, node in enumerate(cell.nodes):
        if node.index != cell.inputs + pos:
            raise ChildError(f"node at position {pos} has index {node.index}", where=where)
        for src, op in ((node.left, node.left_op), (node.right, node.right_op)):
            if not 0 <= src < node.index:
                raise ChildError(f"node {node.index} reads state {src}, not an earlier one", where=where)
            if op not in OPS or "cell" not in OPS.get(op).blocks:
                raise ChildError(f"unknown cell op {op!r}; is the plugin that registers it loaded?", where=where)


class MicroCell(nn.Module):
    """One cell: `forward(s0 (B, C0, H0, W0), s1 (B, C1, H, W)) -> (B, width, H/stride, W/stride)`."""

    def __init__(self, cell: Cell, in0: Shape, in1: Shape, width: int):
        super().__init__()
        if in0[1:] != in1[1:]:  # the cell before a reduction: twice as large
            self.prep0: nn.Module = nn.Sequential(nn.ReLU(), FactorizedReduce(in0[0], width))
        elif in0[0] != width:
            self.prep0 = ReluConvBn(in0[0], width, 1)
        else:
            self.prep0 = nn.Identity()
        self.prep1 = ReluConvBn(in1[0], width, 1)

        def op(name: str, src: int) -> nn.Module:  # only ops on the cell's inputs stride
            return make_op(name, width, width, cell.stride if src < cell.inputs else 1, {}, block="cell")

        self.nodes = nn.ModuleList(
            nn.ModuleList([op(node.left_op, node.left), op(node.right_op, node.right)]) for node in cell.nodes
        )
        self._edges = tuple((node.left, node.right) for node in cell.nodes)
        read = {src for edge in self._edges for src in edge}
        self._loose = tuple(k for k in range(cell.inputs + len(cell.nodes)) if k not in read)
        self.fit = nn.ModuleList(  # loose cell inputs of a reduction cell must be halved too
            FactorizedReduce(width, width) if k < cell.inputs and cell.stride > 1 else nn.Identity()
            for k in self._loose
        )
        self.combine = ReluConvBn(len(self._loose) * width, width, 1)

    def forward(self, s0: Tensor, s1: Tensor) -> Tensor:
        states = [self.prep0(s0), self.prep1(s1)]  # each (B, width, H, W)
        for (left, right), (left_op, right_op) in zip(self._edges, self.nodes):
            states.append(left_op(states[left]) + right_op(states[right]))
        outs = [fit(states[k]) for k, fit in zip(self._loose, self.fit)]
        return self.combine(torch.cat(outs, 1))  # (B, width, H/stride, W/stride)


def _pick_cells(cells: list[Cell] | None) -> tuple[Cell, Cell]:
    """The normal (stride 1) and reduction (stride 2) cell."""
    by_stride = {cell.stride: cell for cell in cells or []}
    if len(cells or []) != 2 or set(by_stride) != {1, 2}:
        raise ChildError("a micro child needs one normal (stride 1) and one reduction (stride 2) cell", where="cells")
    for cell in cells:
        _check_cell(cell)
    return by_stride[1], by_stride[2]


def _layer_stem(layers: list[Layer], task: ImageTask) -> tuple[nn.Sequential, Shape]:
    """A chain of layer ops (the space's layers before its cells) and the shape it outputs."""
    shape: Shape = (task.channels, task.height, task.width)
    ops = []
    for layer in layers:
        if layer.op not in OPS or "layer" not in OPS.get(layer.op).blocks:
            raise ChildError(f"unknown layer op {layer.op!r}; is the plugin that registers it loaded?",
                             where=f"layer {layer.index}")
        stride, width = layer_stride(layer), layer_width(layer, shape[0])
        ops.append(make_op(layer.op, shape[0], width, stride, layer.params))
        shape = (width, out_size(shape[1], stride), out_size(shape[2], stride))
    return nn.Sequential(*ops), shape


class MicroNet(nn.Module):
    """An ENAS micro child: `forward(images (B, C, H, W)) -> logits (B, classes)`."""

    def __init__(self, arch: Architecture, task: ImageTask, config: MicroConfig = MicroConfig()):
        super().__init__()
        normal, reduction = _pick_cells(arch.cells)
        stack = arch.cell_stack or CellStack(stages=3, repeat=config.cells_per_stage, width=config.filters,
                                             stem=config.stem_multiplier * config.filters)
        if arch.layers:
            self.stem, s0 = _layer_stem(arch.layers, task)
        else:
            self.stem = nn.Sequential(nn.Conv2d(task.channels, stack.stem, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(stack.stem))
            s0 = (stack.stem, task.height, task.width)
        s1 = s0
        width = stack.width
        cells, self.layout = [], []  # layout: the cell record each module was built from, for export
        for stage in range(stack.stages):
            if stage:
                width *= 2
                cells.append(MicroCell(reduction, s0, s1, width))
                self.layout.append(reduction)
                s0, s1 = s1, (width, out_size(s1[1], 2), out_size(s1[2], 2))
            for _ in range(stack.repeat):
                cells.append(MicroCell(normal, s0, s1, width))
                self.layout.append(normal)
                s0, s1 = s1, (width, s1[1], s1[2])
        self.cells = nn.ModuleList(cells)
        self.head = ClassifierHead(width, task.classes, config.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head([F.relu(s1)])
