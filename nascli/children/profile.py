"""Size and cost of a child: parameter count and multiply-accumulates (MACs) per example.

MACs are counted by torch's FlopCounterMode while the model runs once, so any
op counts, built-in or from a plugin, whatever modules or functions it is made
of. Only matrix products count (convolutions, matmuls, linear layers: the
usual convention of fvcore and thop); BN, pooling, activations and additions
are free; a MAC is two of FlopCounterMode's flops. The model runs in eval
mode without gradients (BN statistics untouched) and is put back in the mode
it was in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Profile:
    params: int  # trainable and frozen parameters
    macs: int  # multiply-accumulates of one forward, per example


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, example_input: Tensor | tuple, examples: int | None = None) -> int:
    """MACs of `model(example_input)` (a tuple is unpacked as arguments) divided by `examples`.

    `examples` defaults to the first dim of the (first) input: the batch of an
    image tensor (B, C, H, W). Pass it for other layouts, e.g. T * B for MACs
    per token of a (T, B) id tensor.
    """
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*args)
    finally:
        model.train(was_training)
    total = counter.get_total_flops() // 2
    per = examples if examples is not None else args[0].shape[0]
    return total // per


def profile_child(model: nn.Module, example_input: Tensor | tuple, examples: int | None = None) -> Profile:
    return Profile(params=count_params(model), macs=count_macs(model, example_input, examples))
