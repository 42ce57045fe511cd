"""REINFORCE with a moving-average baseline: how the controller learns from rewards.

Zoph & Le's estimator over a batch of m children:

    ∇J ≈ (1/m) Σ_k Σ_t ∇ log P(a_t | a_<t) (R_k − b)

`log_prob` from the controller already sums over a sample's decisions, so the
surrogate loss is −(1/m) Σ_k log P_k (R_k − b), minus ENAS's optional entropy
bonus. Adam (lr 6e-4, as NAS) takes the step.

The baseline b is an exponential moving average of *earlier* batches' mean
rewards: it is read before this batch's rewards are folded in, so it never
depends on the current actions and the estimator stays unbiased. With no
earlier rewards (the first batch) b = 0; after that first batch b starts at
its mean reward (as ENAS-pytorch does) rather than decaying up from 0, which
would keep b far below typical rewards for ~1/(1 − decay) batches.

Asynchronous updates (`--async K`) learn from children sampled by an older
policy μ (whose log-probability log μ_k each child's row keeps) while the
controller π_θ has moved on. The surrogate is PPO's clipped importance ratio:

    ρ_k = exp(log π_θ(a_k) − log μ(a_k))
    L   = −(1/K) Σ_k min(ρ_k A_k, clip(ρ_k, 1 − ε, 1 + ε) A_k) − w · mean entropy,   A_k = R_k − b

With an unmoved policy (ρ = 1) its gradient is exactly the REINFORCE one above;
for a stale child the ratio re-weights it, and the clip (ε = `clip_ratio`, 0.2)
stops a child the policy has since made much likelier or unlikelier from
dominating the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn


class ReinforceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    lr: float = Field(6e-4, gt=0)  # Adam; NAS used 5e-4 for the recurrent search
    baseline_decay: float = Field(0.95, ge=0, lt=1)  # b <- decay * b + (1 - decay) * mean(R)
    entropy_weight: float = Field(0.0, ge=0)  # ENAS used 1e-4
    grad_clip: float | None = Field(None, gt=0)  # max global gradient norm; None: no clipping
    clip_ratio: float = Field(0.2, gt=0, lt=1)  # ε of the asynchronous update's clipped importance ratio


@dataclass(frozen=True)
class ReinforceStats:
    loss: float
    baseline: float  # the b this batch's advantages were taken against
    mean_reward: float
    advantage_mean: float
    entropy_mean: float
    grad_norm: float  # global norm before clipping


class Reinforce:
    """The controller's optimiser and baseline; `step` applies one batch of rewards."""

    def __init__(self, controller: nn.Module, config: ReinforceConfig | None = None):
        self.controller = controller
        self.config = config or ReinforceConfig()
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=self.config.lr)
        self.baseline: float | None = None  # None until the first batch's rewards are seen

    def loss(self, log_prob: Tensor, entropy: Tensor, rewards: Tensor,
             behaviour_log_prob: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The surrogate loss whose gradient is the estimator, and the advantages R − b (m,).
        With `behaviour_log_prob` (the samples' log-probs when drawn), the clipped-ratio surrogate."""
        rewards = torch.as_tensor(rewards, dtype=log_prob.dtype, device=log_prob.device).detach()
        if rewards.shape != log_prob.shape or entropy.shape != log_prob.shape:
            raise ValueError(f"rewards {tuple(rewards.shape)}, log_prob {tuple(log_prob.shape)} and "
                             f"entropy {tuple(entropy.shape)} must all be (m,)")
        if not bool(torch.isfinite(rewards).all()):
            raise ValueError("rewards must be finite; give a failed child a finite reward (e.g. 0)")
        advantage = rewards - (self.baseline or 0.0)  # (m,)
        if behaviour_log_prob is None:
            objective = log_prob * advantage
        else:
            ratio = torch.exp(log_prob - behaviour_log_prob.to(log_prob).detach())
            eps = self.config.clip_ratio
            objective = torch.minimum(ratio * advantage, ratio.clamp(1 - eps, 1 + eps) * advantage)
        loss = -objective.mean() - self.config.entropy_weight * entropy.mean()
        return loss, advantage

    def step(self, log_prob: Tensor, entropy: Tensor, rewards: Tensor,
             behaviour_log_prob: Tensor | None = None) -> ReinforceStats:
        """One Adam step on a batch; afterwards each parameter's `.grad` holds the gradient applied."""
        rewards = torch.as_tensor(rewards, dtype=log_prob.dtype, device=log_prob.device)
        loss, advantage = self.loss(log_prob, entropy, rewards, behaviour_log_prob)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.controller.parameters() if p.grad is not None]
        if self.config.grad_clip is not None:
            grad_norm = float(nn.utils.clip_grad_norm_(params, self.config.grad_clip))
        else:
            grad_norm = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))) if params else 0.0
        self.optimizer.step()

        used = self.baseline or 0.0
        mean_reward = float(rewards.mean())
        decay = self.config.baseline_decay
        self.baseline = mean_reward if self.baseline is None else decay * self.baseline + (1 - decay) * mean_reward
        return ReinforceStats(loss=float(loss.detach()), baseline=used, mean_reward=mean_reward,
                              advantage_mean=float(advantage.mean()), entropy_mean=float(entropy.detach().mean()),
                              grad_norm=grad_norm)

    def state_dict(self) -> dict:
        """Optimiser moments and baseline, for checkpoints (the controller's weights are saved apart)."""
        return {"optimizer": self.optimizer.state_dict(), "baseline": self.baseline}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]


__all__ = ["Reinforce", "ReinforceConfig", "ReinforceStats"]
