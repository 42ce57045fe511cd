"""Size and cost of a child: parameter count and multiply-accumulates (MACs) per example.

MACs are counted exactly from forward hooks, the usual convention (fvcore,
thop): only matrix products count, i.e. nn.Conv2d and nn.Linear calls;
BN, pooling, activations and additions are free.
- Conv2d: out_h * out_w * k_h * k_w * (in / groups) * out per image.
- Linear: in * out per row, rows = every leading dim of its input, so a
  recurrent cell whose products all go through nn.Linear is counted whether it
  projects one step (B, in) or a whole sequence (T, B, in) at once.
A module that multiplies in another way (a raw Parameter matmul) can define
`extra_macs(inputs: tuple, output) -> int`; a hook adds what it returns.
The model runs once in eval mode without gradients (BN statistics untouched)
and is put back in the mode it was in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Profile:
    params: int  # trainable and frozen parameters
    macs: int  # multiply-accumulates of one forward, per example


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv_macs(module: nn.Conv2d, inputs: tuple, output: Tensor) -> int:
    k_h, k_w = module.kernel_size
    return output.numel() * k_h * k_w * (module.in_channels // module.groups)


def _linear_macs(module: nn.Linear, inputs: tuple, output: Tensor) -> int:
    return output.numel() * module.in_features  # rows * out * in


def _counter(module: nn.Module):
    if isinstance(module, nn.Conv2d):
        return _conv_macs
    if isinstance(module, nn.Linear):
        return _linear_macs
    extra = getattr(module, "extra_macs", None)
    return (lambda m, inputs, output: extra(inputs, output)) if callable(extra) else None


def count_macs(model: nn.Module, example_input: Tensor | tuple, examples: int | None = None) -> int:
    """MACs of `model(example_input)` (a tuple is unpacked as arguments) divided by `examples`.

    `examples` defaults to the first dim of the (first) input: the batch of an
    image tensor (B, C, H, W). Pass it for other layouts, e.g. T * B for MACs
    per token of a (T, B) id tensor.
    """
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    total = 0

    def add(count):
        def hook(module, inputs, output):
            nonlocal total
            total += count(module, inputs, output)
        return hook

    handles = [m.register_forward_hook(add(c)) for m in model.modules() if (c := _counter(m)) is not None]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*args)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    per = examples if examples is not None else args[0].shape[0]
    return total // per


def profile_child(model: nn.Module, example_input: Tensor | tuple, examples: int | None = None) -> Profile:
    return Profile(params=count_params(model), macs=count_macs(model, example_input, examples))
