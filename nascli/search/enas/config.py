"""ENAS settings: the reference code's values (papers.md's table) and the CPU-sized defaults.

`EnasConfig.for_family(family)` gives the defaults a search starts from:
the reference's optimisers, schedules, controller shaping and rewards, with
the sizes cut down so that a search runs in minutes on two CPU cores (the
child networks' sizes come from `ChildConfig`, as for every strategy).
`REFERENCE` lists what the reference scripts use where we shrink them; the
CLI prints both at start.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..controller import ControllerConfig


class EnasConfig(BaseModel):
    """One ENAS search: shared-weights phase, controller phase, deriving."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    epochs: int = Field(2, ge=1)  # alternations of the two phases
    depth: int | None = Field(None, ge=1)  # layers of a space with a depth schedule; None: its first (`search_depth`)
    # (a) shared weights: SGD, one sampled child per training minibatch
    batch_size: int = Field(64, ge=1)  # images, or token streams for a language model
    train_subset: int | None = Field(None, ge=1)  # training images (tokens) per epoch; None: all
    bptt: int = Field(35, ge=2)
    lr: float = Field(0.05, gt=0)
    lr_min: float = Field(0.0005, ge=0)
    schedule: Literal["cosine_restarts", "decay"] = "cosine_restarts"
    restart_period: int = Field(10, ge=1)  # cosine: first period in epochs (T0), then x restart_mul
    restart_mul: int = Field(2, ge=1)
    decay: float = Field(0.95, gt=0, le=1)  # decay schedule: lr x decay per epoch from decay_from
    decay_from: int = Field(12, ge=0)
    momentum: float = Field(0.9, ge=0)
    weight_decay: float = Field(2.5e-4, ge=0)
    grad_clip: float = Field(5.0, gt=0)
    # (b) controller: Adam + REINFORCE on validation minibatches
    controller_steps: int = Field(5, ge=1)  # per epoch
    controller_aggregate: int = Field(10, ge=1)  # children whose gradients one step averages
    controller_lr: float = Field(1e-3, gt=0)
    entropy_weight: float = Field(1e-4, ge=0)  # entropy * weight is added to the reward
    skip_target: float = Field(0.4, gt=0, lt=1)
    skip_weight: float | None = Field(None, ge=0)  # macro: weight x KL(skip rate || target) in the loss
    baseline_decay: float = Field(0.99, ge=0, lt=1)
    # images (or token streams x bptt) per reward; None: `batch_size`, as the reference's reward minibatch
    # (shuffle_batch(..., batch_size=self.batch_size) in its children's build_valid_rl)
    valid_batch: int | None = Field(None, ge=1)
    reward_c: float = Field(80.0, gt=0)  # language models: reward = c / validation perplexity
    # deriving (how many children: the search's budget)
    derive_subset: int | None = Field(1000, ge=1)  # validation images (tokens) each is scored on; None: all

    @property
    def reward_batch(self) -> int:
        """Validation images (or token streams) each reward reads."""
        return self.valid_batch or self.batch_size

    def lr_at(self, epoch: int) -> float:
        """The shared weights' learning rate in `epoch` (0-based): set per epoch, as the reference does."""
        if self.schedule == "decay":
            return max(self.lr * self.decay ** max(0, epoch - self.decay_from + 1), self.lr_min)
        period, start = self.restart_period, 0
        while epoch >= start + period:  # cosine with warm restarts, periods T0, T0*mul, ...
            start, period = start + period, period * self.restart_mul
        rate = (epoch - start) / period
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1 + math.cos(math.pi * rate))

    @classmethod
    def for_family(cls, family: str, **changes) -> "EnasConfig":
        """CPU-sized defaults for a family (macro, micro, dag; tree as dag, dense as micro, nas as macro), with
        `changes` applied."""
        return cls(**{**_FAMILY[family], **changes})


# The reference's optimisers and controller settings, per family (papers.md's table). Language
# models: the reference's lr 0.25 and gradient bound 10 apply to a loss summed over the 35
# BPTT steps; ours is the mean over tokens, so we use our children's lr 20 and bound 0.25.
_FAMILY: dict[str, dict] = {
    "macro": dict(controller_lr=1e-3, entropy_weight=1e-4, skip_weight=0.8, weight_decay=2.5e-4),
    "micro": dict(controller_lr=3.5e-3, entropy_weight=1e-4, weight_decay=1e-4),
    "dag": dict(batch_size=20, lr=20.0, lr_min=5e-4, schedule="decay", momentum=0.0, weight_decay=1e-7,
                grad_clip=0.25, controller_lr=1e-3, entropy_weight=1e-3, valid_batch=10, derive_subset=5000),
}

_FAMILY["tree"] = _FAMILY["dag"]  # the NAS tree cell: trained like ENAS's recurrent cell
_FAMILY["dense"] = _FAMILY["micro"]  # dense cells (NAS-Bench-201): trained like ENAS's micro cells
# NAS-wired conv layers (conv, conv_strides, conv_pool): whole conv networks with anchor (skip) decisions, as
# ENAS macro's, so trained like it, the skip penalty included (papers.md: NAS has none; we keep ENAS's, which also
# keeps the sampled children from drifting to dense wiring, whose concatenated inputs make every layer wider)
_FAMILY["nas"] = _FAMILY["macro"]

# Where the CPU defaults are smaller than the reference scripts (shown at start).
REFERENCE: dict[str, dict] = {
    "macro": dict(epochs=310, batch_size=128, controller_steps=50, controller_aggregate=20),
    "micro": dict(epochs=150, batch_size=160, controller_steps=30, controller_aggregate=10),
    "dag": dict(epochs=100, batch_size=20, controller_steps=100, controller_aggregate=10),
}

# ENAS's controller: one LSTM layer of 100 units, with the reference's logit shaping.
CONTROLLER: dict[str, dict] = {
    "macro": dict(tanh_constant=1.5, op_tanh_reduce=2.5),
    "micro": dict(tanh_constant=1.1, op_tanh_reduce=2.5),
    "dag": dict(tanh_constant=2.5, temperature=5.0),
}
REFERENCE["tree"], CONTROLLER["tree"] = REFERENCE["dag"], CONTROLLER["dag"]
REFERENCE["dense"], CONTROLLER["dense"] = REFERENCE["micro"], CONTROLLER["micro"]
REFERENCE["nas"], CONTROLLER["nas"] = REFERENCE["macro"], CONTROLLER["macro"]


def enas_controller(family: str, **changes) -> ControllerConfig:
    """ENAS's controller for `family`: 1 x 100 LSTM and the reference's shaping; `changes` (not None) win."""
    base = dict(hidden=100, layers=1, **CONTROLLER[family])
    return ControllerConfig(**{**base, **{k: v for k, v in changes.items() if v is not None}})
