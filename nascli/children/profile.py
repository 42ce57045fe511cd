"""Size and cost of a child: parameter count and multiply-accumulates (MACs) per example.

MACs are counted while the model runs once, so any op counts, built-in or
from a plugin, whatever modules or functions it is made of. Only matrix
products count (convolutions, matmuls, linear layers: the usual convention of
fvcore and thop); BN, pooling, activations and additions are free; a MAC is
two flops. The model runs in eval mode without gradients (BN statistics
untouched) and is put back in the mode it was in.

The counter (`MacCounter`) gives torch's FlopCounterMode's total: the same
formulas (`flop_registry`) and the same rule for an op without one (run its
CompositeImplicitAutograd decomposition and count what that calls), at a
fraction of the cost on the meta device, where a search counts every child it
draws: it keeps no per-module counts (FlopCounterMode hooks every module call
for them), and batch norm is not decomposed: its decomposition is elementwise
ops only (no formula: 0 flops either way). On the meta device, where batch
norm's and some pointwise ops' kernels are Python (torch._refs) and most of a
forward pass's time, those ops are not run at all: their outputs are made in
the shapes the kernels would give (the input's), which is all that the ops
after them and the flop formulas read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch._C import DispatchKey
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

aten = torch.ops.aten
BATCH_NORM = aten.native_batch_norm.default  # what nn.BatchNorm*d and F.batch_norm dispatch to
# pointwise ops whose meta kernels are Python (torch._refs) and slow; their output has their input's shape
UNARY_POINTWISE = frozenset({aten.relu.default, aten.hardtanh.default, aten.sigmoid.default})
BINARY_POINTWISE = frozenset({aten.add.Tensor, aten.mul.Tensor})


@dataclass(frozen=True)
class Profile:
    params: int  # trainable and frozen parameters
    macs: int  # multiply-accumulates of one forward, per example


class MacCounter(TorchDispatchMode):
    """Flops of the ops run under it, as FlopCounterMode totals them (see the module's docstring)."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self._decomposes: dict = {}  # op overload -> whether FlopCounterMode would run its decomposition

    def _decomposed(self, func) -> bool:
        known = self._decomposes.get(func)
        if known is None:
            implicit = DispatchKey.CompositeImplicitAutograd
            known = self._decomposes[func] = func not in (BATCH_NORM, torch.ops.prim.device.default) and (
                implicit in func.py_kernels or torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), implicit))
        return known

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        shortcut = _meta_outputs(func, args)
        if shortcut is not None:
            return shortcut
        if self._decomposed(func):
            with self:  # its parts are counted as they run
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def _meta_outputs(func, args: tuple):
    """On the meta device, the outputs of batch norm and of the pointwise ops above without running their
    Python meta kernels (most of a meta forward pass's time): what follows sees the same shapes, and flop
    formulas read nothing else. None: run the op."""
    x = args[0] if args else None
    if not isinstance(x, Tensor) or not x.is_meta:
        return None
    if func is BATCH_NORM:  # the output, and the saved mean and inverse std: one per channel
        return torch.empty_like(x), x.new_empty(x.shape[1:2]), x.new_empty(x.shape[1:2])
    if func in UNARY_POINTWISE:
        return torch.empty_like(x)
    if func in BINARY_POINTWISE and isinstance(args[1], Tensor) and (args[1].shape, args[1].dtype) == (x.shape, x.dtype):
        return torch.empty_like(x)  # no broadcasting, no type promotion: the shape and dtype are x's
    return None


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
        with torch.no_grad(), MacCounter() as counter:
            model(*args)
    finally:
        model.train(was_training)
    total = counter.flops // 2
    per = examples if examples is not None else args[0].shape[0]
    return total // per


def profile_child(model: nn.Module, example_input: Tensor | tuple, examples: int | None = None) -> Profile:
    return Profile(params=count_params(model), macs=count_macs(model, example_input, examples))
