"""Whole-network conv children built from `Architecture.layers`: NAS (Zoph & Le) and ENAS macro.

`build_convnet(arch, task)` picks the wiring from the layers (`uses_nas_wiring`):

- `NasConvNet` (spaces conv, conv_strides, conv_pool; and any child with an op
  declared `nas` in the registry, such as `mbconv`, whose layers differ in
  `filters`, or that strides or names a `merge`): each layer honours its own
  stride, width and merge, as `wiring.py` computes them. With `merge = concat`
  (the default) layer i reads the channel-concatenation of the layers in
  `layer.inputs` (its anchor picks) and nothing else. The paper's three
  compilation rules:
  1. a layer with no inputs reads the image (not layer i-1: the anchor picks are
     the whole wiring);
  2. every layer that no later layer reads is a loose end; all loose ends go to
     the classifier (each average-pooled, then concatenated);
  3. inputs of different sizes are zero-padded at the bottom/right to the
     largest one before concatenation.
  With `merge = sum` (a ResNet block) the op reads layer i-1 and the layers in
  `layer.inputs` are added to its output through shortcuts (projected by a 1x1
  conv + BN where the shape differs). Every op makes the layer's `filters`
  channels (a pool or identity projects to them), or its input's where the
  layer sets no width.

- `MacroConvNet` (ENAS macro ops, and any other registered op not declared
  `nas`, when every layer has the same width). As ENAS `general_child.py` does while
  searching (`_enas_layer`): a 3x3 stem conv + BN, then layer i runs its op on
  layer i-1's output (the stem's for layer 0) and, when it has skip inputs,
  returns BN(op output + sum of the skip layers' outputs) (no BN without
  skips: the op already ends in one, or is a pool). ENAS indexes skip
  candidates as [stem, layer 0, ..., layer i-2]; our records name layers
  0..i-1, so picking layer i-1 adds a residual connection. After the layers at
  1/3 and 2/3 depth (3 and 7 of 12) every output still needed is halved by a
  factorized reduction; the width stays `filters` throughout (ENAS search keeps
  out_filters fixed; only its fixed-arc retraining doubles it). Final layer ->
  global average pool -> dropout -> Linear, as ENAS.
  Differences from the reference's *search* form, kept so that the spaces'
  children stay what earlier runs trained: ops are ReLU -> k x k conv -> BN
  (the fixed-arc form); the reference searches with 1x1 conv-BN-ReLU then the
  k x k conv-BN, and runs a 1x1 conv-BN-ReLU before each pool, where ours has
  no parameters.

Shapes are tracked at build time (as timm's EfficientNetBuilder tracks
channels and stride), so forward is only the loop over layers; outputs are
dropped as soon as no later layer needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..arch.records import Architecture, Layer
from ..data.base import ImageTask
from ..errors import ChildError
from ..ops import OPS, make_op
from .ops import ClassifierHead, FactorizedReduce
from ..arch.wiring import IMAGE, Shortcut, loose_ends, macro_pool_points, nas_wiring, reads, uses_nas_wiring


@dataclass(frozen=True)
class ConvNetConfig:
    dropout: float = 0.0  # before the classifier (ENAS macro used keep_prob 0.9 searching, 0.5 final)
    filters: int = 36  # ENAS macro width when no layer names one (every op a pool)


def _check_layers(layers: list[Layer]) -> None:
    if not layers:
        raise ChildError("a conv child needs at least one layer", where="layers")
    for pos, layer in enumerate(layers):
        where = f"layer {pos}"
        if layer.op not in OPS or "layer" not in OPS.get(layer.op).blocks:
            raise ChildError(f"unknown layer op {layer.op!r}; is the plugin that registers it loaded?", where=where)
        if layer.index != pos:
            raise ChildError(f"layer listed at position {pos} has index {layer.index}", where=where)
        if list(layer.inputs) != sorted(set(layer.inputs)) or any(not 0 <= j < pos for j in layer.inputs):
            raise ChildError(f"inputs must be distinct earlier layers; got {layer.inputs}", where=where)


def _last_readers(readers: list[tuple[int, ...]], count: int) -> list[tuple[int, ...]]:
    """Per position i: the outputs whose last reader is i (free them after i). readers[i] = what i reads."""
    last = {j: i for i, reads in enumerate(readers) for j in reads if j < count}
    dead: list[list[int]] = [[] for _ in readers]
    for j, i in last.items():
        dead[i].append(j)
    return [tuple(d) for d in dead]


def _shortcut_module(cut: Shortcut, out_channels: int) -> nn.Module:
    """ResNet's projection shortcut (a 1x1 conv with stride, then BN) where the shapes differ."""
    if not cut.projects:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cut.in_shape[0], out_channels, 1, cut.stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class NasConvNet(nn.Module):
    """A NAS-wired child (`wiring.nas_wiring`): `forward(images (B, C, H, W)) -> logits (B, classes)`."""

    def __init__(self, layers: list[Layer], task: ImageTask, config: ConvNetConfig = ConvNetConfig()):
        super().__init__()
        _check_layers(layers)
        image = len(layers)  # the image's slot in forward's list of outputs
        plan = nas_wiring(layers, (task.channels, task.height, task.width))
        slot = {IMAGE: image, **{i: i for i in range(image)}}
        self.layers = nn.ModuleList(make_op(layer.op, w.in_shape[0], w.out_shape[0], w.stride, layer.params)
                                    for layer, w in zip(layers, plan))
        self._wiring = [tuple((slot[j], pad) for j, pad in zip(w.sources, w.pads)) for w in plan]  # what each op reads
        self._adds = [tuple((cut.source, cut.pad) for cut in w.shortcuts) for w in plan]  # summed after it
        if any(w.merge == "sum" for w in plan):  # only then: a concat-only child keeps its state dict's keys
            self.shortcuts = nn.ModuleList(nn.ModuleList(_shortcut_module(cut, w.out_shape[0]) for cut in w.shortcuts)
                                           for w in plan)
        self.widths = tuple(w.out_shape[0] for w in plan) + (task.channels,)  # each slot's channels (ENAS slices)
        self._loose = tuple(loose_ends(layers))  # rule 2
        self._dead_after = _last_readers([reads(layer) for layer in layers], image)
        self.head = ClassifierHead(sum(self.widths[i] for i in self._loose), task.classes, config.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        outs: list[Tensor | None] = [None] * len(self.layers) + [x]
        for i, op in enumerate(self.layers):
            xs = [outs[j] if pad is None else F.pad(outs[j], pad) for j, pad in self._wiring[i]]
            y = op(xs[0] if len(xs) == 1 else torch.cat(xs, 1))
            for (j, pad), shortcut in zip(self._adds[i], self.shortcuts[i] if self._adds[i] else ()):
                y = y + shortcut(outs[j] if pad is None else F.pad(outs[j], pad))
            outs[i] = y
            for j in self._dead_after[i]:
                outs[j] = None
        return self.head([outs[i] for i in self._loose])


class MacroLayer(nn.Module):
    """One ENAS macro layer: op(previous) [+ sum of skip outputs, then BN]."""

    def __init__(self, op: nn.Module, skips: tuple[int, ...], width: int):
        super().__init__()
        self.op = op
        self.skips = skips
        # ENAS applies this BN to every layer but the first (its search graph sums zeros
        # for unpicked skips); without skips we leave it out, since a BN straight after
        # the op's own BN would cancel that BN's scale and shift.
        self.bn = nn.BatchNorm2d(width) if skips else None

    def forward(self, prev: Tensor, outs: list[Tensor | None]) -> Tensor:  # (B, W, H, W') -> same
        y = self.op(prev)
        if self.bn is None:
            return y
        for j in self.skips:
            y = y + outs[j]
        return self.bn(y)


def _macro_width(layers: list[Layer], default: int) -> int:
    widths = {int(layer.params["filters"]) for layer in layers if "filters" in layer.params}
    if len(widths) > 1:
        raise ChildError(f"ENAS macro layers share one width; got filters {sorted(widths)}", where="layers")
    return widths.pop() if widths else default


class MacroConvNet(nn.Module):
    """An ENAS macro child: `forward(images (B, C, H, W)) -> logits (B, classes)`."""

    def __init__(self, layers: list[Layer], task: ImageTask, config: ConvNetConfig = ConvNetConfig()):
        super().__init__()
        _check_layers(layers)
        width = _macro_width(layers, config.filters)
        self.stem = nn.Sequential(nn.Conv2d(task.channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        self.layers = nn.ModuleList(
            MacroLayer(make_op(layer.op, width, width, 1, layer.params), tuple(layer.inputs), width)
            for layer in layers
        )
        # What each layer reads from the list of outputs: its skips and (main path) layer i-1.
        readers = [tuple(layer.inputs) + ((i - 1,) if i else ()) for i, layer in enumerate(layers)]
        points = macro_pool_points(len(layers))
        self._reduced: list[tuple[int, ...]] = [  # after layer i: outputs read later, to halve
            tuple(j for j in range(i + 1) if any(j in r for r in readers[i + 1:])) if i in points else ()
            for i in range(len(layers))
        ]
        self.reductions = nn.ModuleList(
            nn.ModuleList(FactorizedReduce(width, width) for _ in js) for js in self._reduced
        )
        self._dead_after = _last_readers(readers, len(layers) - 1)  # the last layer feeds the head
        self.head = ClassifierHead(width, task.classes, config.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        prev = self.stem(x)  # (B, width, H, W)
        outs: list[Tensor | None] = [None] * len(self.layers)
        for i, layer in enumerate(self.layers):
            outs[i] = layer(prev, outs)
            for j, reduce in zip(self._reduced[i], self.reductions[i]):
                outs[j] = reduce(outs[j])  # (B, width, ceil(H/2), ceil(W/2))
            prev = outs[i]
            for j in self._dead_after[i]:
                outs[j] = None
        return self.head([prev])


def build_convnet(arch: Architecture, task: ImageTask, config: ConvNetConfig | None = None) -> nn.Module:
    """The child an `Architecture` with `layers` describes, NAS- or ENAS-macro-wired (`uses_nas_wiring`)."""
    if not arch.layers:
        raise ChildError("the architecture has no layers; not a conv-network child", where=arch.space)
    cls = NasConvNet if uses_nas_wiring(arch.layers) else MacroConvNet  # each checks every layer
    return cls(arch.layers, task, config or ConvNetConfig())
