"""A drawing-neutral graph of one architecture: boxes, arrows, clusters.

The builders (`conv.py`, `cells.py`) turn `Architecture` records into a
`Diagram`; `dot.py` writes it as DOT text. Keeping the graph separate from the
DOT syntax puts every escaping and styling detail in one place, and lets tests
check the wiring without parsing a layout.

`Node.kind` picks the colour and shape (`STYLES`): ops are coloured by op type
(convolutions blue, separable convs teal, max-pools orange, avg-pools yellow),
recurrent nodes by activation, and joins (concat, sum, average) are small
white ellipses, so a figure explains itself without a legend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Style:
    fill: str
    shape: str = "box"
    edge: str = "#444444"  # colour of edges labelled with this kind (micro-cell ops)


STYLES: dict[str, Style] = {
    "input": Style("#e6e6e6", "ellipse"),
    "output": Style("#d5ecd4", "ellipse"),
    "conv": Style("#cfe2f3", edge="#1f5f9e"),
    "sep_conv": Style("#cdeae5", edge="#1d7a6b"),
    "max_pool": Style("#fbd5b0", edge="#c0620f"),
    "avg_pool": Style("#fff0b3", edge="#9c7a00"),
    "identity": Style("#eeeeee", edge="#666666"),
    "stem": Style("#e2dcef"),
    "reduce": Style("#f2d7e3"),
    "head": Style("#e6e6e6"),
    "join": Style("#ffffff", "ellipse"),
    "add": Style("#ffffff"),  # a micro-cell node: the sum of its two op-labelled inputs
    "inject": Style("#f2d7e3"),
    "tanh": Style("#cfe2f3"),
    "relu": Style("#fbd5b0"),
    "sigmoid": Style("#d5ecd4"),
    # 'identity' above serves the activation too
}


@dataclass(frozen=True)
class Node:
    id: str
    title: str  # first line, bold
    detail: str = ""  # smaller lines below ('\n' separates them)
    kind: str = "conv"  # a key of STYLES


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str = ""
    dashed: bool = False
    kind: str | None = None  # colours the edge and its label as STYLES[kind].edge


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    nodes: tuple[str, ...]


@dataclass
class Diagram:
    """Nodes and edges in drawing order; `chain` lists nodes to keep in this order top to bottom."""

    title: str
    comment: str  # the token string, written as a DOT comment
    direction: str = "TB"
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    same_rank: list[tuple[str, ...]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def connect(self, src: str, dst: str, label: str = "", dashed: bool = False, kind: str | None = None) -> None:
        self.edges.append(Edge(src, dst, label, dashed, kind))

    def add_reading(self, box: Node, sources: list[str], labels: list[str], index: int) -> None:
        """Add layer `box` reading `sources` (edge `labels`), through a "concat" node when there are several."""
        target = box.id
        if len(sources) > 1:
            target = self.add(Node(f"concat{index}", "concat", kind="join"))
            self.chain.append(target)
        for src, label in zip(sources, labels):
            self.connect(src, target, label)
        self.add(box)
        if target != box.id:
            self.connect(target, box.id)
        self.chain.append(box.id)


def op_kind(op: str) -> str:
    """The style of a layer or cell op: conv, sep_conv, max_pool, avg_pool or identity."""
    for prefix in ("sep_conv", "conv", "max_pool", "avg_pool"):
        if op.startswith(prefix):
            return prefix
    return "identity"


def op_label(op: str) -> str:
    """'sep_conv_3x3' -> 'sep conv 3×3', as the papers write them."""
    return re.sub(r"(\d)x(\d)", r"\1×\2", op.replace("_", " "))
