"""How a conv child's layers are wired, and every feature map's shape, from the layer records alone.

One computation serves the builder (`nascli/children/convnet.py`), the figures and the terminal tree
(`nascli/render/`), the exported source (`nascli/export/`) and `nascli decode`, so what they
show is what is built. No torch here.

Which wiring (`uses_nas_wiring`): ENAS macro (a stem, each op on the layer before, skips summed
then batch-normalised, and reductions of its own at 1/3 and 2/3 depth) when every layer's op is
fixed-size, the layers share one width and none strides or names a `merge`; otherwise NAS wiring,
where each layer honours its own settings (`stride`, `filters`, `merge`):

- `merge = concat` (the default, NAS): the layer's op reads the concatenation of its inputs (its
  skip picks; the image when it has none, rule 1), smaller ones zero-padded at the bottom/right to
  the largest (rule 3);
- `merge = sum` (a ResNet block): the op reads the layer before (the image for layer 0), and the
  layers its skip picks are added to the op's output, each through a shortcut: itself when its shape
  is the output's, else a 1x1 convolution (stride k) and batch norm (ResNet's projection shortcut,
  He et al. 2016) mapping it to the output's width and size.

Every op makes ceil(n / stride) pixels per side and the layer's `filters` channels (its input's
when the layer sets no width). Layers no later layer reads go to the classifier (rule 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import Layer
from ..errors import ChildError
from ..ops import OPS, out_size

IMAGE = -1  # the source index of the input image
Shape = tuple[int, int, int]  # (channels, height, width)
IMAGE_SHAPE: Shape = (3, 32, 32)  # CIFAR-10: what shapes are shown for when the data is not known
Pad = tuple[int, int, int, int]  # F.pad's (left, right, top, bottom)


@dataclass(frozen=True)
class Shortcut:
    """A skip added to a `merge = sum` layer's output: its map as it is, or zero-padded to the output's
    size (rule 3) and, where its width or size differs, projected (1x1 conv with `stride`, then BN)."""

    source: int
    in_shape: Shape
    stride: int
    pad: Pad | None
    projects: bool  # False: the (padded) map is added as it is


@dataclass(frozen=True)
class LayerWiring:
    """What NAS-wired layer i reads and makes."""

    index: int
    merge: str  # "concat" or "sum"
    sources: tuple[int, ...]  # what the op reads: the inputs (concat), or the layer before (sum); IMAGE: the image
    pads: tuple[Pad | None, ...]  # one per source
    in_shape: Shape  # what the op reads, after padding and concatenation
    stride: int
    out_shape: Shape
    shortcuts: tuple[Shortcut, ...] = ()  # sum: the skips added to the op's output


def layer_stride(layer: Layer) -> int:
    return int(layer.params.get("stride", 1))


def layer_width(layer: Layer, in_channels: int) -> int:
    """The layer's `filters`, or its input's channels where the layer sets no width (a pool, identity)."""
    return int(layer.params.get("filters", in_channels))


def layer_merge(layer: Layer) -> str:
    return str(layer.params.get("merge", "concat"))


def uses_nas_wiring(layers: list[Layer]) -> bool:
    """NAS wiring unless ENAS macro wiring fits: no op that sets its own kernel and stride, one width
    for every layer, no stride and no `merge` (the macro network sums its skips and reduces by itself)."""
    if any(OPS.get(layer.op).nas for layer in layers if layer.op in OPS):
        return True
    if any(layer_stride(layer) != 1 or "merge" in layer.params for layer in layers):
        return True
    return len({layer.params["filters"] for layer in layers if "filters" in layer.params}) > 1


def _shortcut_stride(source: Shape, out: Shape) -> int | None:
    """The stride k that maps `source`'s map to `out`'s (ceil(n / k) on both sides), if one does."""
    for k in range(1, max(source[1], source[2]) + 1):
        if (out_size(source[1], k), out_size(source[2], k)) == out[1:]:
            return k
    return None


def _concat_layer(layer: Layer, made: dict[int, Shape]) -> LayerWiring:
    sources = tuple(layer.inputs) or (IMAGE,)  # rule 1
    height = max(made[j][1] for j in sources)
    width = max(made[j][2] for j in sources)
    pads = tuple(None if made[j][1:] == (height, width) else (0, width - made[j][2], 0, height - made[j][1])
                 for j in sources)  # rule 3
    channels = sum(made[j][0] for j in sources)
    stride = layer_stride(layer)
    out = (layer_width(layer, channels), out_size(height, stride), out_size(width, stride))
    return LayerWiring(layer.index, "concat", sources, pads, (channels, height, width), stride, out)


def _sum_layer(layer: Layer, made: dict[int, Shape]) -> LayerWiring:
    main = layer.index - 1 if layer.index else IMAGE
    c, h, w = made[main]
    stride = layer_stride(layer)
    out = (layer_width(layer, c), out_size(h, stride), out_size(w, stride))
    return LayerWiring(layer.index, "sum", (main,), (None,), made[main], stride, out,
                       tuple(_shortcut(layer, j, made[j], out) for j in layer.inputs))


def _shortcut(layer: Layer, source: int, shape: Shape, out: Shape) -> Shortcut:
    k = _shortcut_stride(shape, out)
    if k is not None:
        return Shortcut(source, shape, k, None, projects=shape != out)
    if shape[1] <= out[1] and shape[2] <= out[2]:  # a smaller map (a concat layer between read the image): rule 3
        return Shortcut(source, shape, 1, (0, out[2] - shape[2], 0, out[1] - shape[1]), projects=shape[0] != out[0])
    raise ChildError(f"layer {layer.index} cannot add layer {source}'s {shape[1]}×{shape[2]} map to its "
                     f"{out[1]}×{out[2]} output", where=f"layer {layer.index}")


def nas_wiring(layers: list[Layer], image: Shape = IMAGE_SHAPE) -> list[LayerWiring]:
    """Per NAS-wired layer: what it reads, its pads and shortcuts, and its input/output shapes."""
    made: dict[int, Shape] = {IMAGE: image}
    result = []
    for layer in layers:
        wiring = (_sum_layer if layer_merge(layer) == "sum" else _concat_layer)(layer, made)
        made[layer.index] = wiring.out_shape
        result.append(wiring)
    return result


def reads(layer: Layer) -> tuple[int, ...]:
    """Every earlier layer a NAS-wired layer reads: its inputs, and for `merge = sum` the layer before."""
    main = (layer.index - 1,) if layer_merge(layer) == "sum" and layer.index else ()
    return tuple(sorted(set(layer.inputs) | set(main)))


def loose_ends(layers: list[Layer]) -> list[int]:
    """Layers no later layer reads: they all go to the classifier (rule 2)."""
    read = {j for layer in layers for j in reads(layer)}
    return [layer.index for layer in layers if layer.index not in read]


def macro_pool_points(depth: int) -> tuple[int, ...]:
    """Layers after which ENAS halves the maps: `pool_distance - 1` and `2 * pool_distance - 1`."""
    distance = depth // 3
    return (distance - 1, 2 * distance - 1) if distance else ()


def macro_width(layers: list[Layer], default: int = 36) -> int:
    """The one width of an ENAS macro child (`default` where every op is a pool: ConvNetConfig.filters)."""
    return next((int(layer.params["filters"]) for layer in layers if "filters" in layer.params), default)


def conv_out_shapes(layers: list[Layer], image: Shape = IMAGE_SHAPE) -> list[Shape]:
    """Each layer's output shape, under the wiring the child is built with."""
    if uses_nas_wiring(layers):
        return [w.out_shape for w in nas_wiring(layers, image)]
    width = macro_width(layers)
    return [(width, h, w) for h, w in macro_maps(len(layers), image[1], image[2])]


def macro_maps(depth: int, height: int, width: int) -> list[tuple[int, int]]:
    """(H, W) of each ENAS macro layer's output: halved after the layers `macro_pool_points` names."""
    points = macro_pool_points(depth)
    maps = []
    for i in range(depth):
        maps.append((height, width))
        if i in points:
            height, width = out_size(height, 2), out_size(width, 2)
    return maps
