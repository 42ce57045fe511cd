"""Source of the recurrent children: the cell's step written out node by node, and the language model.

A NAS tree cell's step reads like the paper's worked example (papers.md):
leaf i combines W_x[i]·x_t and W_h[i]·h_{t-1} (rows i*H..(i+1)*H of the two
projections, taken with `split`: a step that never reads the batch size is
what lets the ONNX export's Scan take any batch), inner nodes combine their
children, c_{t-1} is injected after node `cell_index.inject`'s activation, and
c_t is node `cell_index.out`'s pre-activation. An ENAS DAG cell's step is one
highway line pair per node and the mean of the loose ends.
"""

from __future__ import annotations

from torch import nn

from ..arch.records import DagNode, TreeCell
from ..children.dag_cell import DagCell
from ..children.lm import LanguageModel
from ..children.tree_cell import TreeCell as BuiltTreeCell
from .pysource import module_expr

_COMBINE = {"add": "+", "elem_mult": "*"}
_ACTIVATION = {"identity": "{}", "tanh": "torch.tanh({})", "sigmoid": "torch.sigmoid({})", "relu": "torch.relu({})"}


def _body(lines: list[str]) -> str:
    return "".join(f"        {line}\n" if line else "\n" for line in lines)


def _cell_class(name: str, doc: str, cell: nn.Module, state: str, forward: list[str], hidden: int) -> str:
    parts = "".join(f"        self.{n} = {module_expr(m, 8)}\n" for n, m in cell.named_children())
    zeros = f"torch.zeros(batch, {hidden}, device=self.h_proj.weight.device, dtype=self.h_proj.weight.dtype)"
    init_state = f"h = {zeros}\n        return " + ("(h, torch.zeros_like(h))" if state != "Tensor" else "h")
    return (f"\n\nclass {name}(nn.Module):\n    \"\"\"{doc}\"\"\"\n\n"
            "    def __init__(self) -> None:\n        super().__init__()\n" + parts +
            f"\n    def init_state(self, batch: int) -> {state}:\n        {init_state}\n"
            f"\n    def forward(self, x_proj: Tensor, state: {state}) -> tuple[Tensor, {state}]:\n"
            "        \"\"\"One step from x_proj = self.x_proj(x_t), projected for all steps at once.\"\"\"\n"
            + _body(forward))


def tree_cell_source(tree: TreeCell, cell: BuiltTreeCell) -> str:
    memory = tree.cell_index is not None and tree.inject is not None
    hidden, base = cell.hidden_size, tree.base
    lines = ["h_prev, c_prev = state" if memory else "h_prev = state",
             f"xs = x_proj.split({hidden}, -1)  # leaf i's W_x[i]·x_t: columns i*{hidden}..(i+1)*{hidden}",
             f"hs = self.h_proj(h_prev).split({hidden}, -1)  # leaf i's W_h[i]·h_(t-1)"]
    for node in tree.nodes:
        i, op = node.index, _COMBINE[node.combine]
        args = [f"a{k}" for k in node.children] or [f"xs[{i}]", f"hs[{i}]"]
        lines.append(f"pre{i} = {args[0]} {op} {args[1]}  # node {i}: {node.combine}")
        lines.append(f"a{i} = {_ACTIVATION[node.activation].format(f'pre{i}')}  # {node.activation}")
        if memory and i == tree.cell_index.inject:
            joined = f"a{i} {_COMBINE[tree.inject.combine]} c_prev"
            lines.append(f"a{i} = {_ACTIVATION[tree.inject.activation].format(joined)}  "
                         f"# cell inject: {tree.inject.combine} c_(t-1), {tree.inject.activation}")
    root = f"a{tree.nodes[-1].index}"
    if memory:
        lines.append(f"return {root}, ({root}, pre{tree.cell_index.out})  # h_t; c_t = node "
                     f"{tree.cell_index.out} before its activation")
    else:
        lines.append(f"return {root}, {root}")
    state = "tuple[Tensor, Tensor]" if memory else "Tensor"
    return _cell_class("TreeCell", f"The NAS tree cell, base {base}: h_t (and c_t) from x_t, h_(t-1) (and c_(t-1)).",
                       cell, state, lines, hidden)


def dag_cell_source(dag: list[DagNode], cell: DagCell) -> str:
    lines = ["h_prev = state"]
    for node in dag:
        j = node.index
        if node.prev is None:
            proj, h_in = "x_proj + self.h_proj(h_prev)", "h_prev"
        else:
            proj, h_in = f"self.node_proj[{j - 1}](h{node.prev})", f"h{node.prev}"
        lines.append(f"gate, cand = {proj if node.prev is not None else f'({proj})'}.chunk(2, -1)  # node {j} reads "
                     + ("x_t, h_(t-1)" if node.prev is None else f"node {node.prev}"))
        act = _ACTIVATION[node.activation].format("cand")
        lines.append(f"h{j} = {h_in} + torch.sigmoid(gate) * ({act} - {h_in})  # highway, {node.activation}")
    read = {n.prev for n in dag}
    ends = [f"h{n.index}" for n in dag if n.index not in read]
    lines.append(f"h_t = {ends[0]}" if len(ends) == 1 else f"h_t = torch.stack([{', '.join(ends)}]).mean(0)"
                 + "  # the mean of the loose ends")
    lines.append("return h_t, h_t")
    return _cell_class("DagCell", f"The ENAS recurrent cell of {len(dag)} nodes: h_t from x_t and h_(t-1).",
                       cell, "Tensor", lines, cell.hidden_size)


def language_model_source(model: LanguageModel, cell: nn.Module, used: set[str]) -> str:
    state = "tuple[Tensor, Tensor]" if isinstance(cell, BuiltTreeCell) and cell.has_memory else "Tensor"
    cell_class = type(cell).__name__
    tie = "        self.decoder.weight = self.embedding.weight  # tied\n" \
        if model.decoder.weight is model.embedding.weight else ""
    return (
        "\n\nclass Child(nn.Module):\n"
        '    """tokens (T, B) -> embedding -> dropout -> cell over T steps -> dropout -> decoder -> logits."""\n\n'
        "    def __init__(self) -> None:\n        super().__init__()\n"
        f"        self.embedding = {module_expr(model.embedding, 8, used)}\n"
        f"        self.cell = {cell_class}()\n"
        f"        self.dropout = {module_expr(model.dropout, 8, used)}\n"
        f"        self.decoder = {module_expr(model.decoder, 8, used)}\n" + tie +
        f"\n    def init_state(self, batch: int) -> {state}:\n        return self.cell.init_state(batch)\n"
        f"\n    def forward(self, tokens: Tensor, state: {state} | None = None) -> tuple[Tensor, {state}]:\n"
        "        if state is None:\n            state = self.init_state(tokens.shape[1])\n"
        "        x_proj = self.cell.x_proj(self.dropout(self.embedding(tokens)))  # (T, B, K)\n"
        "        outputs: list[Tensor] = []\n"
        "        for x_t in x_proj.unbind(0):  # (B, K)\n"
        "            h_t, state = self.cell(x_t, state)\n"
        "            outputs.append(h_t)\n"
        "        hidden = self.dropout(torch.stack(outputs))  # (T, B, H)\n"
        "        return self.decoder(hidden), state\n")
