"""The tabular child: a stack of dense layers (a space with `task = tabular` and op `dense`, registered
in nascli/ops/builtin.py with `dense` below as its factory).

Wiring follows the NAS paper's compilation rules with "the previous layer" in
place of "the image": layer i reads the concatenated outputs of the earlier
layers its `skip` decision picks, or, when it picks none, layer i-1 (the
table's features for layer 0); every layer that no later layer reads (the last
one always) goes to the linear classifier, concatenated. Each dense layer is
Linear(c_in, units), its activation, then dropout, as `dense` builds it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ..arch import Architecture
from ..data.base import TabularTask
from ..errors import ChildError
from ..ops import make_op

ACTIVATION_MODULES = {"identity": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def dense(c_in: int, c_out: int, stride: int, params: Mapping[str, object]) -> nn.Sequential:
    """One dense layer: Linear(c_in, c_out = units) -> activation -> dropout (`stride` is unused).

    The signature is every op factory's, so the op registry can hold it."""
    activation = str(params.get("activation", "relu"))
    if activation not in ACTIVATION_MODULES:
        raise ChildError(f"unknown activation '{activation}' for a dense layer")
    return nn.Sequential(nn.Linear(c_in, c_out), ACTIVATION_MODULES[activation](),
                         nn.Dropout(float(params.get("dropout", 0.0))))


def layer_sources(arch: Architecture) -> list[list[int]]:
    """Per layer, the earlier layers it reads (-1: the features), in concatenation order."""
    return [sorted(set(layer.inputs)) or [layer.index - 1] for layer in arch.layers]


def loose_ends(sources: list[list[int]]) -> list[int]:
    """The layers no later layer reads, in order; they feed the classifier."""
    read = {j for s in sources for j in s}
    return [i for i in range(len(sources)) if i not in read]


class MLP(nn.Module):
    """Table rows (B, features) -> (B, classes) logits."""

    def __init__(self, arch: Architecture, task: TabularTask):
        super().__init__()
        if not arch.layers:
            raise ChildError("a tabular child needs at least one dense layer", where=arch.tokens)
        self.sources = layer_sources(arch)
        widths = {-1: task.features}
        layers = []
        for layer, sources in zip(arch.layers, self.sources):
            if layer.op != "dense":
                raise ChildError(f"a tabular child takes dense layers, not '{layer.op}'", where=arch.tokens)
            units = int(layer.params["units"])
            layers.append(make_op("dense", sum(widths[j] for j in sources), units, 1, layer.params))
            widths[layer.index] = units
        self.layers = nn.ModuleList(layers)
        self.ends = loose_ends(self.sources)
        self.head = nn.Linear(sum(widths[j] for j in self.ends), task.classes)

    def forward(self, x: Tensor) -> Tensor:
        outputs = {-1: x}
        for i, (layer, sources) in enumerate(zip(self.layers, self.sources)):
            outputs[i] = layer(_concat([outputs[j] for j in sources]))
        return self.head(_concat([outputs[j] for j in self.ends]))


def _concat(tensors: list[Tensor]) -> Tensor:
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, 1)
