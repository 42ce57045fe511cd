"""Architecture records -> PyTorch children, built from per-op modules (ops.py) that an
ENAS super-network can later hold and share."""

from __future__ import annotations

import dataclasses

import torch
from pydantic import BaseModel
from torch import nn

from ..arch import Architecture
from ..data.base import ImageTask, LanguageTask, TabularTask, Task
from ..errors import ChildError
from ..memory import meta_forward_bytes, too_large
from .convnet import ConvNetConfig, build_convnet
from .dense import DenseConfig, DenseNet
from .lm import LanguageModel, LanguageModelConfig
from .micro import MicroConfig, MicroNet
from .mlp import MLP
from .profile import Profile, count_macs, count_params


class ChildConfig(BaseModel):
    """Sizes of each family of child; `dropout` predicted by a space's `hyper` block wins."""

    conv: ConvNetConfig = ConvNetConfig()
    micro: MicroConfig = MicroConfig()
    dense: DenseConfig = DenseConfig()
    language: LanguageModelConfig = LanguageModelConfig()


def _channels_last(_module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def build_child(arch: Architecture, task: Task, config: ChildConfig | None = None) -> nn.Module:
    """The network `arch` describes, shaped for `task` (image size and classes, vocabulary, or table width)."""
    child = _build(arch, task, config or ChildConfig())
    if isinstance(task, ImageTask):
        # Images enter in channels-last layout: a training step (forward and backward) of the bundled image
        # spaces' children ran 1.2-2.3x faster in it on one CPU thread (oneDNN), and cuDNN prefers it with
        # --amp. The weights keep their layout, so state dicts, shared ENAS weights and exports do not change.
        child.register_forward_pre_hook(_channels_last)
    return child


def _build(arch: Architecture, task: Task, config: ChildConfig) -> nn.Module:
    dropout = arch.hyper.get("dropout")
    expects = {"image": ImageTask, "language": LanguageTask, "tabular": TabularTask}[arch.task]
    if not isinstance(task, expects):
        raise ChildError(f"the architecture is for {arch.task} data, but the dataset is not", where=arch.space)
    if arch.task == "tabular":  # dense layers carry their own dropout
        return MLP(arch, task)
    if arch.layers is not None and arch.cells is None:  # layers before cells are the cells' stem
        cfg = config.conv if dropout is None else dataclasses.replace(config.conv, dropout=float(dropout))
        return build_convnet(arch, task, cfg)
    if arch.dense is not None:
        cfg = config.dense if dropout is None else dataclasses.replace(config.dense, dropout=float(dropout))
        return DenseNet(arch.dense, task, cfg)
    if arch.cells is not None:
        cfg = config.micro if dropout is None else dataclasses.replace(config.micro, dropout=float(dropout))
        return MicroNet(arch, task, cfg)
    cfg = config.language if dropout is None else dataclasses.replace(config.language, dropout=float(dropout))
    return LanguageModel(arch, task, cfg)


def example_input(model: nn.Module, task: Task) -> tuple:
    """One example in the layout the child takes: an image, a table row, or one token and a fresh state."""
    if isinstance(task, ImageTask):
        return (torch.zeros(1, task.channels, task.height, task.width),)
    if isinstance(task, TabularTask):
        return (torch.zeros(1, task.features),)
    return (torch.zeros(1, 1, dtype=torch.long), model.init_state(1))


def training_memory(arch: Architecture, task: Task, config: ChildConfig | None, examples: int) -> int:
    """Estimated bytes to train `arch` on batches of `examples` (images, rows, or tokens): its weights,
    gradients and optimizer state, and what one forward keeps for the backward pass. Measured on the
    meta device, so a child far too large to build is sized without allocating anything."""
    with torch.device("meta"):
        model = build_child(arch, task, config)
        inputs = example_input(model, task)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    try:
        forward = meta_forward_bytes(model, inputs)  # of one example (one token for a language model)
    except Exception:  # noqa: BLE001 - an op without a meta kernel: the real build will say what it is
        forward = 0
    return 4 * params + 2 * forward * examples  # weights, gradients, momentum, slack; activations and their gradients


def check_child_memory(arch: Architecture, task: Task, config: ChildConfig | None, examples: int,
                       device: str = "cpu") -> None:
    """A ChildError, before anything is built, when training `arch` cannot fit in `device`'s memory."""
    problem = too_large(training_memory(arch, task, config, examples), "the child", device)
    if problem:
        raise ChildError(problem)


def profile_child(model: nn.Module, task: Task) -> Profile:
    """Parameters, and multiply-adds per image (per row for a table, per token for a language model)."""
    return Profile(params=count_params(model), macs=count_macs(model, example_input(model, task), examples=1))


__all__ = ["ChildConfig", "ConvNetConfig", "DenseConfig", "LanguageModelConfig", "MicroConfig", "Profile",
           "build_child", "check_child_memory", "example_input", "profile_child", "training_memory"]
