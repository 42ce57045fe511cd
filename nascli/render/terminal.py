"""An architecture as a rich Tree for the terminal (`nascli render` without -o).

Conv networks list their layers with what each reads (and which compilation
rule made it so); a NAS tree cell is printed as the tree it is, from hₜ down to
the leaves; an ENAS DAG cell as the tree of "who reads whom" from node 0; micro
cells as their node sums. Colours follow the figures' (conv blue, sep conv
cyan, pools orange/yellow).
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from ..arch.describe import dense_lines
from ..arch.records import Architecture, TreeCell
from ..ops import OPS
from ..arch.wiring import (conv_out_shapes, layer_stride, loose_ends, macro_pool_points, macro_width, nas_wiring,
                           uses_nas_wiring)
from .cells import C_PREV, H_PREV, H_T, X_T
from .conv import IMAGE_SHAPE
from .diagram import op_kind, op_label
from .figure import architecture_diagram
from .mlp import mlp_tree

COLOURS = {"conv": "blue", "sep_conv": "cyan", "max_pool": "dark_orange", "avg_pool": "yellow", "identity": "white",
           "tanh": "blue", "relu": "dark_orange", "sigmoid": "green"}


def _op(op: str) -> str:
    return f"[{COLOURS[op_kind(op)]}]{escape(op_label(op))}[/]"


def _nas_reads(layer, wiring) -> str:
    """What a NAS-wired layer reads, and which compilation rule or merge made it so."""
    if wiring.merge == "sum":
        main = "image" if layer.index == 0 else f"layer {layer.index - 1}"
        added = [f"{cut.source}" + (" (projected)" if cut.projects else "") for cut in wiring.shortcuts]
        return main + "".join(f", + {cut}" for cut in added)
    if not layer.inputs:
        return "image" + (" (rule 1)" if layer.index else "")
    padded = [str(j) for j, pad in zip(layer.inputs, wiring.pads) if pad]
    reads = ("concat " if len(layer.inputs) > 1 else "") + ", ".join(map(str, layer.inputs))
    return reads + (f" (zero-padded: {', '.join(padded)})" if padded else "")


def _nas_tree(arch: Architecture, root: Tree, image_shape: tuple[int, int, int]) -> None:
    root.add(f"image {image_shape[1]}×{image_shape[2]}×{image_shape[0]}")
    for layer, wiring in zip(arch.layers, nas_wiring(arch.layers, image_shape)):
        what = f"{_op(layer.op)} {escape(OPS.get(layer.op).describe(layer.params))}".rstrip()
        c, h, w = wiring.out_shape
        root.add(f"layer {layer.index}: {what}, stride {wiring.stride}  ← {_nas_reads(layer, wiring)}  → {h}×{w}×{c}")
    ends = ", ".join(map(str, loose_ends(arch.layers)))
    root.add(f"classifier ← layers {ends} (rule 2): global avg pool of each → concat → FC → softmax")


def _macro_tree(arch: Architecture, root: Tree, image_shape: tuple[int, int, int]) -> None:
    points = macro_pool_points(len(arch.layers))
    c, h, w = image_shape
    root.add(f"stem: conv 3×3 + BN  ← image {h}×{w}×{c}  → {h}×{w}×{macro_width(arch.layers)}")
    for layer, (c, h, w) in zip(arch.layers, conv_out_shapes(arch.layers, image_shape)):
        skips = f"  + skips from {', '.join(map(str, layer.inputs))}, summed, BN" if layer.inputs else ""
        source = "stem" if layer.index == 0 else f"layer {layer.index - 1}"
        head = OPS.get(layer.op).describe_parts(layer.params)[0]  # a plugin's kernel, say: the width is the net's
        what = _op(layer.op) + (f" {escape(head)}" if head else "")
        branch = root.add(f"layer {layer.index}: {what}({source}), stride 1  → {h}×{w}×{c}{skips}")
        if layer.index in points and layer.index + 1 < len(arch.layers):
            branch.add("[magenta]factorized reduce[/] (ENAS macro wiring's own): every map read later is halved")
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
    if arch.layers:  # the layer stem before the cells
        steps = [f"{_op(layer.op)} {escape(OPS.get(layer.op).describe(layer.params))}, stride {layer_stride(layer)}"
                 for layer in arch.layers]
        root.add("stem: " + " → ".join(steps))
    for cell in arch.cells:
        branch = root.add(f"{cell.name} cell" + (f" (stride {cell.stride})" if cell.stride > 1 else ""))
        branch.add("node 0 = cₖ₋₂, node 1 = cₖ₋₁")
        for n in cell.nodes:
            branch.add(f"node {n.index} = {_op(n.left_op)}(node {n.left}) + {_op(n.right_op)}(node {n.right})")
        read = {s for n in cell.nodes for s in (n.left, n.right)}
        ends = [str(k) for k in range(cell.inputs + len(cell.nodes)) if k not in read]
        branch.add(f"output cₖ = 1×1 conv(concat(nodes {', '.join(ends)}))")


def _dense_tree(arch: Architecture, root: Tree) -> None:
    branch = root.add(escape(f"dense cell '{arch.dense.name}'"))
    for line in dense_lines(arch)[1:-1]:
        branch.add(escape(line.strip()))
    root.add(escape(dense_lines(arch)[-1]))


def architecture_tree(arch: Architecture, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Tree:
    """A rich Tree describing `arch`, titled with its figure's title; a conv child reads `image_shape`."""
    root = Tree(f"[bold]{escape(architecture_diagram(arch, image_shape).title)}[/]")
    if arch.task == "tabular":
        mlp_tree(arch, root)
    elif arch.layers is not None and arch.cells is None:  # layers before cells are the cells' stem
        (_nas_tree if uses_nas_wiring(arch.layers) else _macro_tree)(arch, root, image_shape)
    elif arch.tree is not None:
        _tree_branch(arch.tree, len(arch.tree.nodes) - 1, root.add(f"{H_T} ="))
    elif arch.dag is not None:
        _dag_tree(arch, root)
    elif arch.dense is not None:
        _dense_tree(arch, root)
    else:
        _cells_tree(arch, root)
    return root


def fit_tree(tree: Tree, width: int, depth: int = 0) -> Tree:
    """`tree` with every line cut to `width` columns at a space, ending in '…': a line the terminal would
    crop mid-number ("→ 32×32×" for "→ 32×32×36") is cut before the number instead."""
    label = tree.label if isinstance(tree.label, Text) else Text.from_markup(str(tree.label))
    room = width - 4 * depth  # each level of the tree's guides takes 4 columns
    if label.cell_len > room > 10:
        cut = label.plain.rfind(" ", 0, room - 1)
        label.truncate(cut if cut > 0 else room - 2)
        label.rstrip()
        label.append(" …")
    tree.label = label
    for child in tree.children:
        fit_tree(child, width, depth + 1)
    return tree
