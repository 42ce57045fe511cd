"""Typed configs for training a child and turning its score into a reward."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..space.ir import Value


# Training examples per epoch per child unless --train-subset says otherwise: a proxy
# search that finishes in minutes on a laptop CPU (the paper: 45,000 images, 50 epochs).
# Tables are small: every row, every epoch.
PROXY_SUBSET = {"image": 400, "language": 20_000}


class TrainConfig(BaseModel):
    """How one child is trained. Defaults follow the NAS paper's CIFAR-10 children
    (SGD, Nesterov momentum 0.9, lr 0.1, weight decay 1e-4) at a CPU-sized proxy scale:
    a few epochs on a subset instead of 50 epochs on 45,000 images."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    epochs: int = Field(2, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0)
    nesterov: bool = True
    weight_decay: float = Field(1e-4, ge=0)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    train_subset: int | None = Field(None, ge=1)  # training examples (images, or tokens for text) per epoch
    augment: bool = True  # random crop + flip (images)
    bptt: int = Field(35, ge=2)  # truncated BPTT length (text)
    grad_clip: float | None = 5.0  # max gradient norm; keeps bad children from exploding
    seed: int = 0
    amp: bool = False  # bf16/fp16 autocast (see train/device.py)

    def step_examples(self, language: bool) -> int:
        """What one training step feeds a child: a batch of images or rows, or batch × bptt tokens."""
        return self.batch_size * (self.bptt if language else 1)

    def with_hyper(self, hyper: dict[str, Value]) -> "TrainConfig":
        """The config with the controller's predicted hyper-parameters applied.
        `dropout` is a model setting (the child builder reads it), not a trainer one."""
        update = {k: v for k, v in hyper.items() if k in TrainConfig.model_fields}
        return self.model_copy(update=update)

    @classmethod
    def for_task(cls, task: str) -> "TrainConfig":
        """The defaults for a dataset kind's task: image, language or tabular."""
        if task == "language":
            return cls.for_language()
        if task == "tabular":  # rows have no pixels to crop or flip; small tables want small batches
            return cls(augment=False, batch_size=32, lr=0.05)
        return cls()

    @classmethod
    def proxy(cls, task: str, epochs: int | None = None, subset: int | None = None, seed: int = 0,
              amp: bool = False) -> "TrainConfig":
        """`nascli search`'s children: the task's defaults on `PROXY_SUBSET` examples per epoch, unless given."""
        base = cls.for_task(task)
        return base.model_copy(update={"epochs": epochs or base.epochs,
                                       "train_subset": subset or PROXY_SUBSET.get(task), "seed": seed, "amp": amp})

    @classmethod
    def for_language(cls, **kw) -> "TrainConfig":
        """Language-model children: plain SGD with a large lr and tight clipping, as in the
        ENAS reference code's PTB children (lr 20, clip 0.25); the NAS paper gives none."""
        base = dict(batch_size=32, lr=20.0, momentum=0.0, nesterov=False, weight_decay=1e-6,
                    grad_clip=0.25, augment=False, schedule="constant")
        return cls(**{**base, **kw})


class RewardConfig(BaseModel):
    """Score -> reward. Images: max validation accuracy of the last `last_epochs` epochs,
    to the power `power` (the paper cubes it). Text: `c` / validation perplexity²."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    last_epochs: int = Field(5, ge=1)
    power: float = Field(3.0, gt=0)
    c: float = Field(80.0, gt=0)
    failed: float = 0.0  # reward of a child that crashed or diverged
