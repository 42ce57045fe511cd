"""An architecture as a rich Tree for the terminal (`nascli render` without -o).

Conv networks list their layers with what each reads (and which compilation
rule made it so); a NAS tree cell is printed as the tree it is, from hₜ down to
the leaves; an ENAS DAG cell as the tree of "who reads whom" from node 0; micro
cells as their node sums. Colours follow the figures' (conv blue, sep conv
cyan, pools orange/yellow).
"""

from __future__ import annotations

from rich.markup import escape
from rich.tree import Tree

from ..arch.records import Architecture, TreeCell
from ..ops import OPS
from ..children.convnet import uses_nas_wiring, macro_pool_points
from .cells import C_PREV, H_PREV, H_T, X_T
from .conv import IMAGE_SHAPE
from .diagram import op_kind, op_label
from .figure import architecture_diagram
from .shapes import loose_ends, macro_sizes, nas_shapes

COLOURS = {"conv": "blue", "sep_conv": "cyan", "max_pool": "dark_orange", "avg_pool": "yellow", "identity": "white",
           "tanh": "blue", "relu": "dark_orange", "sigmoid": "green"}


def _op(op: str) -> str:
    return f"[{COLOURS[op_kind(op)]}]{escape(op_label(op))}[/]"


def _nas_tree(arch: Architecture, root: Tree) -> None:
    shapes = nas_shapes(arch.layers, IMAGE_SHAPE)
    root.add(f"image {IMAGE_SHAPE[1]}×{IMAGE_SHAPE[2]}×{IMAGE_SHAPE[0]}")
    for layer, shape in zip(arch.layers, shapes):
        what = f"{_op(layer.op)} {escape(OPS.get(layer.op).describe(layer.params))}"
        if not layer.inputs:
            reads = "image" + (" (rule 1)" if layer.index else "")
        else:
            padded = [str(j) for j, pad in zip(layer.inputs, shape.pads) if pad]
            reads = ("concat " if len(layer.inputs) > 1 else "") + ", ".join(map(str, layer.inputs))
            reads += f" (zero-padded: {', '.join(padded)})" if padded else ""
        c, h, w = shape.out_shape
        root.add(f"layer {layer.index}: {what}  ← {reads}  → {h}×{w}×{c}")
    ends = ", ".join(map(str, loose_ends(arch.layers)))
    root.add(f"classifier ← layers {ends} (rule 2): global avg pool of each → concat → FC → softmax")


def _macro_tree(arch: Architecture, root: Tree) -> None:
    points = macro_pool_points(len(arch.layers))
    root.add("stem: conv 3×3 + BN")
    for layer, size in zip(arch.layers, macro_sizes(len(arch.layers), IMAGE_SHAPE[1])):
        skips = f" + skips from {', '.join(map(str, layer.inputs))}, summed, BN" if layer.inputs else ""
        source = "stem" if layer.index == 0 else f"layer {layer.index - 1}"
        branch = root.add(f"layer {layer.index}: {_op(layer.op)}({source}){skips}  → {size}×{size}")
        if layer.index in points and layer.index + 1 < len(arch.layers):
            branch.add("[magenta]factorized reduce[/]: every map read later is halved")
    root.add("classifier: global avg pool → FC → softmax")


def _tree_branch(tree: TreeCell, index: int, parent: Tree) -> None:
    node = tree.nodes[index]
    colour = COLOURS.get(node.activation, "white")
    label = f"node {index}: {node.combine}, [{colour}]{node.activation}[/]"
    if tree.cell_index is not None and tree.inject is not None and index == tree.cell_index.inject:
        label += f"  then cell inject with {C_PREV}: {tree.inject.combine}, {tree.inject.activation}"
    if tree.cell_index is not None and index == tree.cell_index.out:
        label += "  (its pre-activation is cₜ)"
    branch = parent.add(label)
    if not node.children:
        branch.add(f"W{2 * index + 1}·{X_T}, W{2 * index + 2}·{H_PREV}")
    for child in node.children:
        _tree_branch(tree, child, branch)


def _dag_tree(arch: Architecture, root: Tree) -> None:
    readers: dict[int | None, list[int]] = {}
    for node in arch.dag:
        readers.setdefault(node.prev, []).append(node.index)
    ends = [n.index for n in arch.dag if n.index not in readers]

    def grow(index: int, parent: Tree) -> None:
        act = arch.dag[index].activation
        end = f"  → avg → {H_T}" if index in ends else ""
        branch = parent.add(f"node {index}: highway, [{COLOURS[act]}]{act}[/]{end}")
        for child in readers.get(index, []):
            grow(child, branch)

    grow(0, root.add(f"{X_T}, {H_PREV}"))


def _cells_tree(arch: Architecture, root: Tree) -> None:
    for cell in arch.cells:
        branch = root.add(f"{cell.name} cell" + (f" (stride {cell.stride})" if cell.stride > 1 else ""))
        branch.add("node 0 = cₖ₋₂, node 1 = cₖ₋₁")
        for n in cell.nodes:
            branch.add(f"node {n.index} = {_op(n.left_op)}(node {n.left}) + {_op(n.right_op)}(node {n.right})")
        read = {s for n in cell.nodes for s in (n.left, n.right)}
        ends = [str(k) for k in range(cell.inputs + len(cell.nodes)) if k not in read]
        branch.add(f"output cₖ = 1×1 conv(concat(nodes {', '.join(ends)}))")


def architecture_tree(arch: Architecture) -> Tree:
    """A rich Tree describing `arch`, titled with its figure's title."""
    root = Tree(f"[bold]{escape(architecture_diagram(arch).title)}[/]")
    if arch.layers is not None:
        (_nas_tree if uses_nas_wiring(arch.layers) else _macro_tree)(arch, root)
    elif arch.tree is not None:
        _tree_branch(arch.tree, len(arch.tree.nodes) - 1, root.add(f"{H_T} ="))
    elif arch.dag is not None:
        _dag_tree(arch, root)
    else:
        _cells_tree(arch, root)
    return root
