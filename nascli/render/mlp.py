"""Tabular children (dense layers) as a diagram and as a terminal tree.

The wiring drawn is the one the builder applies (nascli/children/mlp.py):
a layer reads the layers its skip picks, concatenated, or the previous layer
(the features for layer 0); layers no later layer reads go to the classifier.
Boxes are coloured by the layer's activation.
"""

from __future__ import annotations

from rich.tree import Tree

from ..arch.records import Architecture
from ..children.mlp import layer_sources, loose_ends
from ..ops import OPS
from .diagram import Diagram, Node


def _name(j: int) -> str:
    return "features" if j < 0 else f"layer{j}"


def mlp_diagram(arch: Architecture) -> Diagram:
    diagram = Diagram(title=f"{arch.space}: dense network, {len(arch.layers)} layers", comment=arch.tokens)
    diagram.chain.append(diagram.add(Node("features", "table row", "encoded features", "input")))
    sources = layer_sources(arch)
    for layer, reads in zip(arch.layers, sources):
        head, detail = OPS.get(layer.op).describe_parts(layer.params)
        box = Node(f"layer{layer.index}", f"layer {layer.index} · dense {head}", detail,
                   str(layer.params.get("activation", "relu")))
        diagram.add_reading(box, [_name(j) for j in reads], [""] * len(reads), layer.index)
    head = diagram.add(Node("head", "classifier", "concat → FC", "head"))
    for j in loose_ends(sources):
        diagram.connect(_name(j), head)
    softmax = diagram.add(Node("softmax", "softmax", kind="output"))
    diagram.connect(head, softmax)
    diagram.chain += [head, softmax]
    return diagram


def mlp_tree(arch: Architecture, root: Tree) -> None:
    sources = layer_sources(arch)
    for layer, reads in zip(arch.layers, sources):
        what = OPS.get(layer.op).describe(layer.params)
        inputs = ", ".join("features" if j < 0 else f"layer {j}" for j in reads)
        root.add(f"layer {layer.index}: dense {what}  ← {'concat ' if len(reads) > 1 else ''}{inputs}")
    ends = ", ".join(map(str, loose_ends(sources)))
    root.add(f"classifier ← layers {ends}: concat → FC → softmax")
