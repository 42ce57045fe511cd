"""Recurrent and micro cells as diagrams.

- NAS tree cell (`arch.tree`), as the paper's figure of its worked example:
  inputs xₜ, hₜ₋₁, cₜ₋₁ on top; a box per node "combine · activation"; leaves
  read xₜ and hₜ₋₁ (edges named by their weight, W1 ... W2·base, as
  `nascli.arch.describe` writes the equations); inner nodes read their
  children; the inject node combines node `cell_index.inject`'s output with
  cₜ₋₁ before its parent reads it; hₜ is the root and cₜ is node
  `cell_index.out` *before* its activation.
- ENAS DAG cell (`arch.dag`): xₜ, hₜ₋₁ → node 0; node prev → node j (a highway
  step with the node's activation); the loose ends are averaged into hₜ.
- ENAS micro cells (`arch.cells`): one cluster per cell; nodes 0 and 1 are the
  two previous cells' outputs; each later node adds two op-labelled inputs;
  the loose ends are concatenated (then a 1×1 conv) into the cell's output.
- Dense cells (`arch.dense`, NAS-Bench-201): node 0 is the cell's input, each
  edge i → j is labelled with its op (`none` edges are not drawn), each node
  sums its incoming edges, the last node is the cell's output.
"""

from __future__ import annotations

from ..arch.records import Architecture, Cell, TreeCell
from .diagram import Cluster, Diagram, Node, op_kind, op_label

X_T, H_PREV, C_PREV, H_T, C_T = "xₜ", "hₜ₋₁", "cₜ₋₁", "hₜ", "cₜ"


def _tree_diagram(tree: TreeCell, diagram: Diagram) -> None:
    memory = tree.cell_index is not None and tree.inject is not None
    x = diagram.add(Node("x_t", X_T, kind="input"))
    h = diagram.add(Node("h_prev", H_PREV, kind="input"))
    c = diagram.add(Node("c_prev", C_PREV, kind="input")) if memory else None
    diagram.same_rank.append(tuple(n for n in (x, h, c) if n))
    output: dict[int, str] = {}  # the diagram node a parent reads for each tree node
    for node in tree.nodes:
        i = node.index
        box = diagram.add(Node(f"node{i}", f"node {i}", f"{node.combine} · {node.activation}", node.activation))
        if node.children:
            for k in node.children:
                diagram.connect(output[k], box)
        else:
            diagram.connect(x, box, f"W{2 * i + 1}")
            diagram.connect(h, box, f"W{2 * i + 2}")
        output[i] = box
        if memory and i == tree.cell_index.inject:
            inject = diagram.add(Node("inject", "cell inject", f"{tree.inject.combine} · {tree.inject.activation}",
                                      "inject"))
            diagram.connect(box, inject)
            diagram.connect(c, inject)
            output[i] = inject
    diagram.same_rank.append(tuple(f"node{n.index}" for n in tree.nodes if not n.children))
    h_t = diagram.add(Node("h_t", H_T, kind="output"))
    diagram.connect(output[tree.nodes[-1].index], h_t)
    if memory:
        c_t = diagram.add(Node("c_t", C_T, kind="output"))
        diagram.connect(f"node{tree.cell_index.out}", c_t, "before activation", dashed=True)
        diagram.same_rank.append((h_t, c_t))


def _dag_diagram(arch: Architecture, diagram: Diagram) -> None:
    x = diagram.add(Node("x_t", X_T, kind="input"))
    h = diagram.add(Node("h_prev", H_PREV, kind="input"))
    diagram.same_rank.append((x, h))
    for node in arch.dag:
        box = diagram.add(Node(f"node{node.index}", f"node {node.index}", f"highway · {node.activation}",
                               node.activation))
        if node.prev is None:
            diagram.connect(x, box)
            diagram.connect(h, box)
        else:
            diagram.connect(f"node{node.prev}", box)
    read = {n.prev for n in arch.dag}
    ends = [f"node{n.index}" for n in arch.dag if n.index not in read]
    h_t = diagram.add(Node("h_t", H_T, kind="output"))
    if len(ends) == 1:
        diagram.connect(ends[0], h_t)
        return
    avg = diagram.add(Node("avg", "avg", f"of {len(ends)} loose ends", "join"))
    for end in ends:
        diagram.connect(end, avg)
    diagram.connect(avg, h_t)


def _cell_cluster(cell: Cell, diagram: Diagram) -> None:
    start = len(diagram.nodes)
    name = cell.name
    c_prev2 = diagram.add(Node(f"{name}_0", "cₖ₋₂", "cell before last", "input"))
    c_prev = diagram.add(Node(f"{name}_1", "cₖ₋₁", "previous cell", "input"))
    diagram.same_rank.append((c_prev2, c_prev))
    strided = cell.stride > 1
    for node in cell.nodes:
        box = diagram.add(Node(f"{name}_{node.index}", f"node {node.index}", "add", "add"))
        for src, op in ((node.left, node.left_op), (node.right, node.right_op)):
            stride = f", stride {cell.stride}" if strided and src < cell.inputs else ""
            label = "factorized reduce" if stride and op == "identity" else op_label(op) + stride
            diagram.connect(f"{name}_{src}", box, label, kind=op_kind(op))
    read = {src for node in cell.nodes for src in (node.left, node.right)}
    concat = diagram.add(Node(f"{name}_concat", "concat", "loose ends", "join"))
    for k in range(cell.inputs + len(cell.nodes)):
        if k not in read:
            reduce = "factorized reduce" if strided and k < cell.inputs else ""
            diagram.connect(f"{name}_{k}", concat, reduce)
    out = diagram.add(Node(f"{name}_out", "cₖ", "1×1 conv", "output"))
    diagram.connect(concat, out)
    label = f"{name} cell" + (f" (stride {cell.stride})" if strided else "")
    diagram.clusters.append(Cluster(f"cluster_{name}", label, tuple(n.id for n in diagram.nodes[start:])))


def tree_diagram(arch: Architecture) -> Diagram:
    diagram = Diagram(f"{arch.space}: NAS recurrent cell, base {arch.tree.base}", arch.tokens)
    _tree_diagram(arch.tree, diagram)
    return diagram


def dag_diagram(arch: Architecture) -> Diagram:
    diagram = Diagram(f"{arch.space}: ENAS recurrent cell, {len(arch.dag)} nodes", arch.tokens)
    _dag_diagram(arch, diagram)
    return diagram


def micro_diagram(arch: Architecture) -> Diagram:
    stem = f", after a stem of {len(arch.layers)} layers ({', '.join(l.op for l in arch.layers)})" if arch.layers else ""
    diagram = Diagram(f"{arch.space}: ENAS convolutional cell and reduction cell{stem}", arch.tokens)
    for cell in arch.cells:
        _cell_cluster(cell, diagram)
    return diagram


def dense_diagram(arch: Architecture) -> Diagram:
    cell = arch.dense
    widths = "/".join(str(cell.width * 2**s) for s in range(cell.stages))
    diagram = Diagram(f"{arch.space}: dense cell, {cell.nodes} nodes; network {cell.stages} stages × "
                      f"{cell.repeat} cells, {widths} wide", arch.tokens)
    diagram.add(Node("node0", "node 0", "cell input", "input"))
    for j in range(1, cell.nodes):
        last = j == cell.nodes - 1
        diagram.add(Node(f"node{j}", f"node {j}", "sum" + (" · cell output" if last else ""),
                         "output" if last else "add"))
    for edge in cell.edges:
        if edge.op != "none":
            diagram.connect(f"node{edge.source}", f"node{edge.target}", op_label(edge.op), kind=op_kind(edge.op))
    diagram.chain += [f"node{j}" for j in range(cell.nodes)]
    return diagram
