"""The NAS recurrent tree cell (Zoph & Le 2017; papers.md "Recurrent cell search space").

A tree of `2*base-1` nodes computes h_t from (x_t, h_{t-1}). Leaf i computes
`act_i(combine_i(W_x[i] x_t, W_h[i] h_{t-1}))`; an inner node has no weights and
computes `act(combine(left, right))`; the last node (the root) is h_t. With a
memory cell, c_{t-1} is injected at node `cell_index.inject` (its output a
becomes `inject.act(inject.combine(a, c_{t-1}))` before its parent reads it) and
c_t is node `cell_index.out`'s output *before* its activation.

Speed: all leaves' projections of a step are two matrix products, one
`Linear(in, base*hidden)` for x_t and one `Linear(hidden, base*hidden)` for
h_{t-1}; the x half does not depend on the recurrence, so a language model
projects every time step at once with `project_inputs` and then calls `recur`.
The evaluation order and which pre-activation to keep are planned once here.

Also home of what both recurrent cells share: the activation/combine tables
and `linear_macs`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..arch.records import TreeCell as TreeCellRecord
from ..errors import ChildError

# Names as in nascli.space.vocab.ACTIVATIONS / COMBINES (a test checks they agree).
ACTIVATION_FNS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda t: t,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}
COMBINE_FNS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"add": torch.add, "elem_mult": torch.mul}

TreeState = Tensor | tuple[Tensor, Tensor]  # h (B, H), or (h, c) with a memory cell


def lookup(table: dict, name: str, where: str):
    """`table[name]`, or a ChildError naming the unknown activation/combine."""
    if name not in table:
        raise ChildError(f"unknown name '{name}'; expected one of: {', '.join(table)}", where=where)
    return table[name]


def linear_macs(module: nn.Module, batch: int = 1) -> int:
    """Multiply-accumulates of applying every nn.Linear inside `module` once to `batch` rows."""
    return batch * sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def _check_tree(record: TreeCellRecord) -> None:
    """The layout this cell relies on: nodes in index order, leaves 0..base-1, binary inner nodes
    reading earlier nodes, known names, a cell_index inside the tree."""
    n = len(record.nodes)
    for pos, node in enumerate(record.nodes):
        where = f"tree node {pos}"
        if node.index != pos:
            raise ChildError(f"node listed at position {pos} has index {node.index}", where=where)
        if (pos < record.base) != (not node.children):
            raise ChildError(f"nodes 0..{record.base - 1} must be the leaves, and only they", where=where)
        if node.children and (len(node.children) != 2 or not all(0 <= k < pos for k in node.children)):
            raise ChildError(f"an inner node needs two earlier children, got {node.children}", where=where)
        lookup(COMBINE_FNS, node.combine, where)
        lookup(ACTIVATION_FNS, node.activation, where)
    if n < record.base or (n > 1 and not record.nodes[-1].children):
        raise ChildError(f"{n} nodes do not make a tree of base {record.base}", where="tree")
    if (record.inject is None) != (record.cell_index is None):
        raise ChildError("a memory cell needs both 'inject' and 'cell_index'", where="tree")
    if record.cell_index is not None:
        for name, k in (("out", record.cell_index.out), ("inject", record.cell_index.inject)):
            if not 0 <= k < n:
                raise ChildError(f"cell_index.{name} = {k} is not a node (0..{n - 1})", where="tree cell_index")


class TreeCell(nn.Module):
    """One step of a sampled NAS tree cell: `forward(x_t (B, in), state) -> (h_t (B, H), state)`."""

    def __init__(self, record: TreeCellRecord, input_size: int, hidden_size: int):
        super().__init__()
        _check_tree(record)
        self.base = record.base
        self.hidden_size = hidden_size
        # No biases: the paper's leaves are W1.x_t + W2.h_{t-1} (papers.md worked example).
        # Rows [i*H, (i+1)*H) of each weight are leaf i's W_x[i] / W_h[i].
        self.x_proj = nn.Linear(input_size, self.base * hidden_size, bias=False)
        self.h_proj = nn.Linear(hidden_size, self.base * hidden_size, bias=False)
        # (index, children, combine name, activation fn) in evaluation (= index) order.
        self._plan = [(n.index, tuple(n.children), n.combine, ACTIVATION_FNS[n.activation]) for n in record.nodes]
        # Leaves share one combine op per distinct name over all leaves at once.
        self._leaf_combines = tuple(sorted({n.combine for n in record.nodes[: self.base]}))
        self.has_memory = record.cell_index is not None
        if self.has_memory:
            self._c_node, self._inject_node = record.cell_index.out, record.cell_index.inject
            self._inject_combine = lookup(COMBINE_FNS, record.inject.combine, "tree inject")
            self._inject_act = lookup(ACTIVATION_FNS, record.inject.activation, "tree inject")
        else:
            self._c_node = self._inject_node = -1  # never matches a node

    def init_state(self, batch: int) -> TreeState:
        w = self.h_proj.weight
        h = torch.zeros(batch, self.hidden_size, device=w.device, dtype=w.dtype)
        return (h, torch.zeros_like(h)) if self.has_memory else h

    def project_inputs(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., base*H): every leaf's W_x[i].x, for any number of time steps."""
        return self.x_proj(x)

    def recur(self, x_proj: Tensor, state: TreeState) -> tuple[Tensor, TreeState]:
        """One step from this step's projected input (B, base*H)."""
        h_prev, c_prev = state if self.has_memory else (state, None)
        batch = h_prev.shape[0]
        xp = x_proj.reshape(batch, self.base, self.hidden_size)
        hp = self.h_proj(h_prev).view(batch, self.base, self.hidden_size)
        # Each distinct leaf combine runs once over all leaves; unbind (not indexing) so that
        # backward is one stack instead of a zero-filled (B, base, H) tensor per leaf.
        leaf_pre = {name: COMBINE_FNS[name](xp, hp).unbind(1) for name in self._leaf_combines}  # base x (B, H)
        out: list[Tensor] = []  # post-activation (and post-inject) output per node, (B, H)
        c_t = None
        for index, kids, combine, act in self._plan:
            pre = COMBINE_FNS[combine](out[kids[0]], out[kids[1]]) if kids else leaf_pre[combine][index]
            if index == self._c_node:
                c_t = pre
            node_out = act(pre)
            if index == self._inject_node:
                node_out = self._inject_act(self._inject_combine(node_out, c_prev))
            out.append(node_out)
        h_t = out[-1]
        return h_t, ((h_t, c_t) if self.has_memory else h_t)

    def forward(self, x_t: Tensor, state: TreeState) -> tuple[Tensor, TreeState]:
        return self.recur(self.project_inputs(x_t), state)

    def macs_per_step(self, batch: int = 1) -> int:
        """Matrix-product MACs of one step (the two leaf projections); elementwise ops not counted."""
        return linear_macs(self, batch)
