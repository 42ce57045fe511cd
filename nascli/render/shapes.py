"""Feature-map shapes of a conv child, computed from its layer records alone.

The figures label zero-padding and map sizes, and the exported module source
spells out every pad, so both need what `nascli.children.convnet` tracks while
building: a NAS layer reads the concatenation of its inputs (the image when it
has none, rule 1), smaller inputs are zero-padded at the bottom/right to the
largest (rule 3), and every op keeps ceil(n / stride) pixels per side.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.records import Layer
from ..children.convnet import macro_pool_points
from ..ops import out_channels, out_size

IMAGE = -1  # the source index of the input image

Shape = tuple[int, int, int]  # (channels, height, width)


@dataclass(frozen=True)
class LayerShape:
    """What NAS layer i reads and makes; pads are F.pad's (left, right, top, bottom) or None."""

    sources: tuple[int, ...]  # earlier layers, or (IMAGE,) by rule 1
    pads: tuple[tuple[int, int, int, int] | None, ...]  # one per source
    in_shape: Shape  # after padding and concatenation
    out_shape: Shape


def nas_shapes(layers: list[Layer], image: Shape = (3, 32, 32)) -> list[LayerShape]:
    """Per NAS-wired layer: its sources, their pads, and its input/output shapes."""
    made: dict[int, Shape] = {IMAGE: image}
    result = []
    for layer in layers:
        sources = tuple(layer.inputs) or (IMAGE,)
        height = max(made[j][1] for j in sources)
        width = max(made[j][2] for j in sources)
        pads = tuple(None if made[j][1:] == (height, width) else (0, width - made[j][2], 0, height - made[j][1])
                     for j in sources)
        channels = sum(made[j][0] for j in sources)
        stride = int(layer.params.get("stride", 1))
        filters = out_channels(layer.op, channels, int(layer.params.get("filters", channels)))
        made[layer.index] = (filters, out_size(height, stride), out_size(width, stride))
        result.append(LayerShape(sources, pads, (channels, height, width), made[layer.index]))
    return result


def loose_ends(layers: list[Layer]) -> list[int]:
    """Layers no later layer reads: they all go to the classifier (rule 2)."""
    read = {j for layer in layers for j in layer.inputs}
    return [layer.index for layer in layers if layer.index not in read]


def macro_sizes(depth: int, size: int = 32) -> list[int]:
    """Map side of each ENAS macro layer's output: halved after the layers `macro_pool_points` names."""
    points = macro_pool_points(depth)
    sizes = []
    for i in range(depth):
        sizes.append(size)
        if i in points:
            size = out_size(size, 2)
    return sizes
