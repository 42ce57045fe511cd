"""The ENAS recurrent cell (Pham et al. 2018; papers.md "Recurrent cell (PTB)").

Node 0 reads x_t and h_{t-1}; each later node j reads one earlier node `prev`.
Every node is a highway step with its own activation f:
    node 0:  c = sigmoid(x W^{x,c} + h_{t-1} W^{h,c}),  h_0 = c * f(x W^{x,h} + h_{t-1} W^{h,h}) + (1-c) * h_{t-1}
    node j:  c = sigmoid(h_prev W^c_j),                 h_j = c * f_j(h_prev W^h_j) + (1-c) * h_prev
papers.md writes node 1 as plain tanh(x W^x + h W^h); we follow the ENAS reference
code (carpedm20/ENAS-pytorch `RNN.cell`) instead, whose first node is the highway
form above with the *sampled* activation (the enas_rnn space samples one for
node 0). The output h_t, which is also the next step's state, is the mean of the
loose ends (nodes that no later node reads), as in the paper.

The c and h projections of a node are one Linear (-> 2H) split in two. Node 0's
x part has the cell's only bias (x and h terms are summed, so one bias suffices,
as in the reference code); it does not depend on the recurrence, so a language
model projects every time step at once with `project_inputs`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..arch.records import DagNode
from ..errors import ChildError
from .tree_cell import ACTIVATION_FNS, linear_macs, lookup


def _check_dag(nodes: list[DagNode]) -> None:
    if not nodes:
        raise ChildError("an ENAS cell needs at least one node", where="dag")
    for pos, node in enumerate(nodes):
        where = f"dag node {pos}"
        if node.index != pos:
            raise ChildError(f"node listed at position {pos} has index {node.index}", where=where)
        reads_input = node.prev is None
        if reads_input != (pos == 0) or not (reads_input or 0 <= node.prev < pos):
            raise ChildError(f"node 0 reads the input and node j>0 an earlier node; got prev={node.prev}", where=where)
        lookup(ACTIVATION_FNS, node.activation, where)


def _highway(proj: Tensor, h_in: Tensor, act) -> Tensor:
    """c * f(h-part) + (1-c) * h_in with c = sigmoid(c-part); proj is (B, 2H) = [c-part | h-part]."""
    gate_pre, cand_pre = proj.chunk(2, dim=-1)
    gate = torch.sigmoid(gate_pre)
    return h_in + gate * (act(cand_pre) - h_in)  # the same value with one op fewer


class DagCell(nn.Module):
    """One step of a sampled ENAS cell: `forward(x_t (B, in), h (B, H)) -> (h_t, h_t)`."""

    def __init__(self, nodes: list[DagNode], input_size: int, hidden_size: int):
        super().__init__()
        _check_dag(nodes)
        self.hidden_size = hidden_size
        self.x_proj = nn.Linear(input_size, 2 * hidden_size)  # [W^{x,c} | W^{x,h}] + bias
        self.h_proj = nn.Linear(hidden_size, 2 * hidden_size, bias=False)  # [W^{h,c} | W^{h,h}]
        self.node_proj = nn.ModuleList(  # node j's [W^c_j | W^h_j], for j = 1..N-1
            nn.Linear(hidden_size, 2 * hidden_size, bias=False) for _ in nodes[1:]
        )
        self._acts = [ACTIVATION_FNS[n.activation] for n in nodes]
        self._prev = [n.prev for n in nodes]
        read = {n.prev for n in nodes}
        self.loose_ends = [n.index for n in nodes if n.index not in read]

    def init_state(self, batch: int) -> Tensor:
        w = self.h_proj.weight
        return torch.zeros(batch, self.hidden_size, device=w.device, dtype=w.dtype)

    def project_inputs(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., 2H): node 0's x terms, for any number of time steps."""
        return self.x_proj(x)

    def recur(self, x_proj: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
        """One step from this step's projected input (B, 2H)."""
        h = [_highway(x_proj + self.h_proj(h_prev), h_prev, self._acts[0])]  # (B, H) per node
        for j, proj in enumerate(self.node_proj, start=1):
            h_in = h[self._prev[j]]
            h.append(_highway(proj(h_in), h_in, self._acts[j]))
        ends = [h[j] for j in self.loose_ends]
        h_t = ends[0] if len(ends) == 1 else torch.stack(ends).mean(dim=0)
        return h_t, h_t

    def forward(self, x_t: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
        return self.recur(self.project_inputs(x_t), h_prev)

    def macs_per_step(self, batch: int = 1) -> int:
        """Matrix-product MACs of one step (every node's projection); elementwise ops not counted."""
        return linear_macs(self, batch)
