"""The controller's output heads, one per kind of decision.

- `ChoiceHead`: a softmax over a decision's options (NAS, ENAS).
- `AnchorHead`: NAS's anchor point. Layer i reads earlier layer j with
  P = sigmoid(vᵀ tanh(W_prev h_j + W_curr h_i)), one independent Bernoulli per
  earlier layer.
- `IndexHead`: the same attention score, but a softmax over candidate nodes:
  exactly one is picked (ENAS's `prev`, `left`/`right`; NAS's cell_index).

Each head turns the controller's hidden state into logits; `decide` then
samples an action from them (or scores a given one) and returns its log-prob
and entropy. `shape_logits` is ENAS's temperature and tanh constant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def shape_logits(logits: Tensor, temperature: float | None, tanh_constant: float | None) -> Tensor:
    """ENAS's logit shaping: divide by the temperature, then squash to ±tanh_constant."""
    if temperature is not None:
        logits = logits / temperature
    if tanh_constant is not None:
        logits = tanh_constant * torch.tanh(logits)
    return logits


def categorical(logits: Tensor, generator: torch.Generator | None = None,
                action: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """One pick per row of `logits` (m, k): action (m,) long, log-prob (m,), entropy (m,)."""
    log_p = torch.log_softmax(logits, dim=-1)  # (m, k)
    p = log_p.exp()
    if action is None:
        action = torch.multinomial(p.detach(), 1, generator=generator).squeeze(1)
    log_prob = log_p.gather(1, action.unsqueeze(1)).squeeze(1)
    entropy = -(p * log_p).sum(-1)
    return action, log_prob, entropy


def bernoulli(logits: Tensor, generator: torch.Generator | None = None,
              action: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Independent yes/no per entry of `logits` (m, n): action (m, n) bool; log-prob and entropy summed (m,)."""
    log_yes, log_no = F.logsigmoid(logits), F.logsigmoid(-logits)  # stable log p, log (1 - p)
    if action is None:
        draw = torch.rand(logits.shape, generator=generator, device=logits.device)
        action = draw < torch.sigmoid(logits.detach())
    log_prob = torch.where(action, log_yes, log_no).sum(-1)
    entropy = -(log_yes.exp() * log_yes + log_no.exp() * log_no).sum(-1)
    return action, log_prob, entropy


class ChoiceHead(nn.Module):
    """Logits over one decision's `size` options from the top LSTM layer's output."""

    decide = staticmethod(categorical)

    def __init__(self, hidden: int, size: int):
        super().__init__()
        self.proj = nn.Linear(hidden, size)

    def forward(self, query: Tensor) -> Tensor:  # (m, H) -> (m, size)
        return self.proj(query)


class _AttentionHead(nn.Module):
    """score(j, i) = vᵀ tanh(W_prev h_j + W_curr h_i) for candidate states h_j and the current h_i.

    `key(h_j)` = W_prev h_j is computed once per candidate (when its state is
    recorded, as ENAS does) and reused at every later step that may pick it.
    """

    def __init__(self, hidden: int):
        super().__init__()
        self.w_prev = nn.Linear(hidden, hidden, bias=False)
        self.w_curr = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def key(self, state: Tensor) -> Tensor:  # (m, H) -> (m, H)
        return self.w_prev(state)

    def forward(self, keys: Tensor, query: Tensor) -> Tensor:  # keys (m, n, H), query (m, H) -> (m, n)
        return self.v(torch.tanh(keys + self.w_curr(query).unsqueeze(1))).squeeze(-1)


class AnchorHead(_AttentionHead):
    """NAS anchor point: each earlier layer is an input with its own sigmoid probability."""

    decide = staticmethod(bernoulli)


class IndexHead(_AttentionHead):
    """Pointer to one earlier node: a softmax over the candidates' attention scores."""

    decide = staticmethod(categorical)


__all__ = ["AnchorHead", "ChoiceHead", "IndexHead", "bernoulli", "categorical", "shape_logits"]
