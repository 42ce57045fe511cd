"""Architecture -> readable text: layer rows, and recurrent cells as equations.

The tree cell is written as the paper's worked example writes it: leaf i uses
W_{2i+1}·x_t and W_{2i+2}·h_{t-1}; inner nodes have no weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ops import OPS
from .records import Architecture, Layer, TreeCell
from .wiring import IMAGE_SHAPE, Shape, conv_out_shapes, layer_merge, layer_stride, uses_nas_wiring

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


@dataclass(frozen=True)
class LayerRow:
    """One layer as tables print it."""

    index: int
    op: str
    params: str  # the op's parameters (`OpSpec.describe`)
    stride: int
    reads: str  # what the op reads, and what is added to it
    output: str  # "H×W×C", or the width for a table's dense layer


def _reads(arch: Architecture, layer: Layer, macro: bool) -> str:
    """What layer `layer` reads, as the builder wires it."""
    skips = ", ".join(map(str, layer.inputs))
    if arch.task == "tabular":  # a dense layer without skips reads the one before
        return skips or ("features" if layer.index == 0 else str(layer.index - 1))
    if macro or layer_merge(layer) == "sum":
        main = ("stem" if macro else "image") if layer.index == 0 else str(layer.index - 1)
        return f"op({main}) + {' + '.join(map(str, layer.inputs))}" if skips else main
    return skips or "image"


def _size(shape: Shape) -> str:
    return f"{shape[1]}×{shape[2]}×{shape[0]}"


def layer_rows(arch: Architecture, image: Shape = IMAGE_SHAPE) -> list[LayerRow]:
    """Per layer: op, parameters, stride, what it reads and the shape it makes from `image` (C, H, W)."""
    layers = arch.layers or []
    if arch.task == "tabular":
        outputs = [str(layer.params.get("units", "")) for layer in layers]
        macro = False
    else:
        macro = not uses_nas_wiring(layers)
        outputs = [_size(shape) for shape in conv_out_shapes(layers, image)]
    return [LayerRow(layer.index, layer.op, OPS.get(layer.op).describe(layer.params), layer_stride(layer),
                     _reads(arch, layer, macro), out) for layer, out in zip(layers, outputs)]


def dense_lines(arch: Architecture) -> list[str]:
    """A dense cell as node sums (`none` edges left out), then the network it is stacked into."""
    cell = arch.dense
    lines = [f"dense cell '{cell.name}' (node 0: the cell's input; node {cell.nodes - 1}: its output):"]
    for j in range(1, cell.nodes):
        terms = [f"{e.op}(node {e.source})" for e in cell.edges if e.target == j and e.op != "none"]
        lines.append(f"  node {j} = {' + '.join(terms) or '0'}")
    widths = ", ".join(str(cell.width * 2**s) for s in range(cell.stages))
    lines.append(f"network: stem, {cell.stages} stages of {cell.repeat} cells ({widths} wide), "
                 "a residual reduction between stages")
    return lines


def cell_lines(arch: Architecture) -> list[str]:
    lines = dense_lines(arch) if arch.dense is not None else []
    for cell in arch.cells or []:
        lines.append(f"{cell.name} cell (inputs: nodes 0..{cell.inputs - 1}, stride {cell.stride}):")
        for n in cell.nodes:
            lines.append(f"  node {n.index} = {n.left_op}(node {n.left}) + {n.right_op}(node {n.right})")
    return lines


def describe(arch: Architecture) -> list[str]:
    """Plain-text lines for any architecture (the CLI adds tables and colour)."""
    lines = [f"{k} = {v}" for k, v in arch.hyper.items()]
    if arch.layers is not None:
        lines += [f"layer {r.index}: {r.op} {r.params}, stride {r.stride} <- {r.reads} -> {r.output}"
                  for r in layer_rows(arch)]
    if arch.tree is not None:
        lines += tree_equations(arch.tree)
    if arch.dag is not None:
        lines += dag_equations(arch)
    return lines + cell_lines(arch)
