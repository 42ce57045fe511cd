"""Dense-cell children (NAS-Bench-201) built from `Architecture.dense`.

Layout (NAS-Bench-201's `TinyNetwork`): a 3x3 stem conv + BN to `width`
channels; `stages` stages of `repeat` cells, with a residual reduction block
between stages that halves H and W and doubles the width (NAS-Bench-201's
`ResNetBasicblock`: ReLU-conv3x3(stride 2)-BN, ReLU-conv3x3-BN, plus a
shortcut of 2x2 average pooling and a 1x1 conv); then BN -> ReLU -> global
average pool -> Linear. In a cell, node 0 is the cell's input, node j is the
sum over i < j of op_ij(node i), and the last node is the cell's output.
Every edge op keeps the width and the map size (stride 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..arch.records import DenseCell
from ..data.base import ImageTask
from ..errors import ChildError
from ..ops import OPS, make_op
from .ops import ClassifierHead


@dataclass(frozen=True)
class DenseConfig:
    dropout: float = 0.0  # before the classifier (NAS-Bench-201 uses none)


class DenseCellBlock(nn.Module):
    """One dense cell: `edges[k]` maps node `sources[k]` into node `targets[k]` (sorted by target)."""

    def __init__(self, edges: nn.ModuleList, sources: list[int], targets: list[int], nodes: int) -> None:
        super().__init__()
        self.edges = edges
        self.sources = sources
        self.targets = targets
        self.nodes = nodes

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> same
        states = [x] + [torch.zeros_like(x) for _ in range(self.nodes - 1)]
        for k, edge in enumerate(self.edges):  # a node's edges all come before the edges that read it
            states[self.targets[k]] = states[self.targets[k]] + edge(states[self.sources[k]])
        return states[-1]


class ResidualReduce(nn.Module):
    """NAS-Bench-201's reduction block: (B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(out_channels))
        self.conv_b = nn.Sequential(nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                                    nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True),
                                      nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))

    def source_args(self) -> list[str]:
        return [str(self.conv_a[1].in_channels), str(self.conv_a[1].out_channels)]


def _cell(record: DenseCell, width: int) -> DenseCellBlock:
    for edge in record.edges:
        if edge.op not in OPS or "cell" not in OPS.get(edge.op).blocks:
            raise ChildError(f"unknown cell op {edge.op!r}; is the plugin that registers it loaded?",
                             where=f"edge {edge.source}->{edge.target}")
    edges = nn.ModuleList(make_op(edge.op, width, width, 1, {}, block="cell") for edge in record.edges)
    return DenseCellBlock(edges, [e.source for e in record.edges], [e.target for e in record.edges], record.nodes)


class DenseNet(nn.Module):
    """A dense-cell child: `forward(images (B, C, H, W)) -> logits (B, classes)`."""

    def __init__(self, record: DenseCell, task: ImageTask, config: DenseConfig = DenseConfig()):
        super().__init__()
        width = record.width
        self.stem = nn.Sequential(nn.Conv2d(task.channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        cells: list[nn.Module] = []
        for stage in range(record.stages):
            if stage:
                cells.append(ResidualReduce(width, 2 * width))
                width *= 2
            cells += [_cell(record, width) for _ in range(record.repeat)]
        self.cells = nn.ModuleList(cells)
        self.last = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU())
        self.head = ClassifierHead(width, task.classes, config.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.head([self.last(x)])
