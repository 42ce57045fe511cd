"""Architecture -> readable text: layer rows, and recurrent cells as equations.

The tree cell is written as the paper's worked example writes it: leaf i uses
W_{2i+1}·x_t and W_{2i+2}·h_{t-1}; inner nodes have no weights.
"""

from __future__ import annotations

from ..ops import OPS
from .records import Architecture, TreeCell

_COMBINE = {"add": " + ", "elem_mult": " ⊙ "}


def _apply(act: str, expr: str) -> str:
    return expr if act == "identity" else f"{act}({expr})"


def tree_equations(tree: TreeCell) -> list[str]:
    """One line per node, then inject, h_t and c_t."""
    lines, pre = [], {}
    inject = tree.cell_index.inject if tree.cell_index and tree.inject else None
    for node in tree.nodes:
        i = node.index
        if node.children:
            a, b = node.children
            args = [f"a{a}", f"a{b}"]
        else:
            x, h = f"W{2 * i + 1}·x_t", f"W{2 * i + 2}·h_{{t-1}}"
            args = [x, h] if node.combine == "add" else [f"({x})", f"({h})"]
        pre[i] = _COMBINE[node.combine].join(args)
        lines.append(f"node {i}: a{i} = {_apply(node.activation, pre[i])}")
        if i == inject:
            joined = _COMBINE[tree.inject.combine].join([f"a{i}", "c_{t-1}"])
            lines.append(f"inject: a{i} ← {_apply(tree.inject.activation, joined)}")
    lines.append(f"h_t = a{tree.nodes[-1].index}")
    if tree.cell_index is not None:
        out = tree.cell_index.out
        lines.append(f"c_t = {pre[out]}   (node {out} before its activation)")
    return lines


def dag_equations(arch: Architecture) -> list[str]:
    lines = []
    used = {n.prev for n in arch.dag if n.prev is not None}
    for n in arch.dag:
        src = "x_t, h_{t-1}" if n.prev is None else f"h{n.prev}"
        lines.append(f"node {n.index}: h{n.index} = highway({n.activation}, {src})")
    ends = [f"h{n.index}" for n in arch.dag if n.index not in used]
    lines.append(f"h_t = mean({', '.join(ends)})")
    return lines


def layer_rows(arch: Architecture) -> list[tuple[str, str, str, str]]:
    """(layer, op, parameters, inputs) per layer; inputs '-' means the image (rule 1)."""
    rows = []
    for layer in arch.layers or []:
        params = OPS.get(layer.op).describe(layer.params)
        inputs = ", ".join(map(str, layer.inputs)) if layer.inputs else "image"
        rows.append((str(layer.index), layer.op, params, inputs))
    return rows


def cell_lines(arch: Architecture) -> list[str]:
    lines = []
    for cell in arch.cells or []:
        lines.append(f"{cell.name} cell (inputs: nodes 0..{cell.inputs - 1}, stride {cell.stride}):")
        for n in cell.nodes:
            lines.append(f"  node {n.index} = {n.left_op}(node {n.left}) + {n.right_op}(node {n.right})")
    return lines


def describe(arch: Architecture) -> list[str]:
    """Plain-text lines for any architecture (the CLI adds tables and colour)."""
    lines = [f"{k} = {v}" for k, v in arch.hyper.items()]
    if arch.layers is not None:
        lines += [f"layer {r[0]}: {r[1]} {r[2]} <- {r[3]}" for r in layer_rows(arch)]
    if arch.tree is not None:
        lines += tree_equations(arch.tree)
    if arch.dag is not None:
        lines += dag_equations(arch)
    return lines + cell_lines(arch)
