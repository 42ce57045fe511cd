"""A word-level language model around one sampled recurrent cell.

    tokens (T, B) -> embedding -> dropout -> cell unrolled over T -> dropout -> decoder -> logits (T, B, V)

The cell is the NAS tree cell when `arch.tree` is set and the ENAS DAG cell when
`arch.dag` is. Each cell's x-projection does not depend on the recurrence, so it
runs once over all T steps (one big matrix product); only the h-projections run
inside the time loop. Every matrix product goes through an nn.Linear, so a
forward hook on nn.Linear counts them all (the x-projection's call covers T*B
rows); `macs_per_step` gives the same count from the Linear shapes.

Detaching the state between BPTT segments is the trainer's job (`detach_state`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..arch.records import Architecture
from ..data.base import LanguageTask
from ..errors import ChildError
from .dag_cell import DagCell
from .tree_cell import TreeCell, TreeState, linear_macs

State = TreeState  # h (B, H), or (h, c) for a tree cell with a memory cell


@dataclass(frozen=True)
class LanguageModelConfig:
    """Sizes for search: small enough to train a child on CPU in minutes (the paper's are ~10x bigger)."""

    embed_size: int = 64
    hidden_size: int = 64
    dropout: float = 0.2  # on embeddings and cell outputs; small children trained briefly underfit more than overfit
    tie_weights: bool = True  # decoder weight = embedding weight (needs embed_size == hidden_size)
    init_range: float = 0.1  # embedding (and untied decoder) weights ~ U(-init_range, init_range)


def detach_state(state: State) -> State:
    """The state cut from the graph of the BPTT segment that produced it."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def build_cell(arch: Architecture, input_size: int, hidden_size: int) -> TreeCell | DagCell:
    if arch.tree is not None:
        return TreeCell(arch.tree, input_size, hidden_size)
    if arch.dag is not None:
        return DagCell(arch.dag, input_size, hidden_size)
    raise ChildError("a language model needs a recurrent cell (a 'tree' or 'dag' block)", where=arch.tokens)


class LanguageModel(nn.Module):
    """Embedding, one sampled recurrent cell, and a (tied) softmax decoder."""

    def __init__(self, arch: Architecture, task: LanguageTask, config: LanguageModelConfig = LanguageModelConfig()):
        super().__init__()
        if not isinstance(task, LanguageTask):
            raise ChildError(f"a language model needs a language task, got {type(task).__name__}", where=arch.tokens)
        if config.tie_weights and config.embed_size != config.hidden_size:
            raise ChildError(f"tie_weights needs embed_size == hidden_size, got {config.embed_size} and "
                             f"{config.hidden_size}", where="LanguageModelConfig")
        self.config = config
        self.embedding = nn.Embedding(task.vocab_size, config.embed_size)
        self.cell = build_cell(arch, config.embed_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, task.vocab_size)
        nn.init.uniform_(self.embedding.weight, -config.init_range, config.init_range)
        nn.init.zeros_(self.decoder.bias)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight  # one parameter, listed once by .parameters()
        else:
            nn.init.uniform_(self.decoder.weight, -config.init_range, config.init_range)

    def init_state(self, batch: int) -> State:
        return self.cell.init_state(batch)

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """tokens (T, B) int64 -> logits (T, B, V) and the state after the last step."""
        if state is None:
            state = self.init_state(tokens.shape[1])
        x_proj = self.cell.project_inputs(self.dropout(self.embedding(tokens)))  # (T, B, K)
        outputs = []
        for x_t in x_proj.unbind(0):  # (B, K)
            h_t, state = self.cell.recur(x_t, state)
            outputs.append(h_t)
        hidden = self.dropout(torch.stack(outputs))  # (T, B, H)
        return self.decoder(hidden), state

    def macs_per_step(self, batch: int = 1) -> int:
        """Matrix-product MACs per time step: the cell's projections plus the decoder.

        The cell's alone: `self.cell.macs_per_step(batch)`.
        """
        return self.cell.macs_per_step(batch) + linear_macs(self.decoder, batch)
