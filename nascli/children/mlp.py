"""The tabular child: a stack of dense layers (a space with `task = tabular` and op `dense`).

Wiring, per layer i: it reads layer i-1's output (the table's features for
layer 0), concatenated with the outputs of the earlier layers its `skip`
decision picks (DenseNet-style; an anchor to i-1 adds nothing more). A linear
classifier reads the last layer. Each dense layer is Linear(c_in, units), its
activation, then dropout, as `dense` builds it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ..arch import Architecture
from ..data.base import TabularTask
from ..errors import ChildError

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
    sources = []
    for layer in arch.layers:
        previous = layer.index - 1
        sources.append([previous] + sorted(j for j in set(layer.inputs) if j != previous))
    return sources


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
            layers.append(dense(sum(widths[j] for j in sources), units, 1, layer.params))
            widths[layer.index] = units
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(widths[len(layers) - 1], task.classes)

    def forward(self, x: Tensor) -> Tensor:
        outputs = {-1: x}
        for i, (layer, sources) in enumerate(zip(self.layers, self.sources)):
            inputs = [outputs[j] for j in sources]
            outputs[i] = layer(inputs[0] if len(inputs) == 1 else torch.cat(inputs, 1))
        return self.head(outputs[len(self.layers) - 1])
