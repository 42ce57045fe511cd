"""Conv networks (`arch.layers`) as diagrams, drawn like the NAS paper's CIFAR-10 figure.

NAS children (ops conv / max_pool): an image node, one box per layer with its
filter height × width, filters and stride, one arrow per skip connection, and
the compilation rules made visible: a layer without inputs reads the image
(dashed, "rule 1"), inputs of different sizes get a "zero-pad" edge label
(rule 3), several inputs meet in a "concat" node, and the loose ends go to the
classifier (dashed, "rule 2").

ENAS macro children: a stem, then each layer's op on the previous layer's
output; skip connections are *summed* (then batch-normalised) in a "+" node,
and the maps are halved by factorized reductions at 1/3 and 2/3 depth.
"""

from __future__ import annotations

from ..arch.records import Architecture, Layer
from ..arch.wiring import (IMAGE_SHAPE, LayerWiring, conv_out_shapes, loose_ends, macro_pool_points, macro_width,
                           nas_wiring, uses_nas_wiring)
from ..errors import ArchitectureError
from ..ops import OPS
from .diagram import Diagram, Node, op_kind, op_label

__all__ = ["IMAGE_SHAPE", "conv_diagram"]  # IMAGE_SHAPE: drawn when the data is not known (an arch.json on its own)
_HALVED = ("", "halved", "halved twice")  # skip labels, by the reductions between the two layers


def _size(shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"{h}×{w}×{c}"


def _nas_box(layer: Layer, shape: LayerWiring) -> Node:
    head, detail = OPS.get(layer.op).describe_parts(layer.params)
    title = f"layer {layer.index} · {op_label(layer.op)}" + (f" {head}" if head else "")
    made = f"stride {shape.stride} → {_size(shape.out_shape)}"
    return Node(f"layer{layer.index}", title, f"{detail}, {made}" if detail else made, op_kind(layer.op))


def _sum_layer(layer: Layer, shape: LayerWiring, diagram: Diagram, image: str) -> None:
    """A `merge = sum` layer: its op on the layer before, the shortcuts added in a "+" node."""
    box = diagram.add(_nas_box(layer, shape))
    diagram.connect(image if layer.index == 0 else _output(layer.index - 1, diagram), box)
    diagram.chain.append(box)
    if not shape.shortcuts:
        return
    total = diagram.add(Node(f"sum{layer.index}", "+", "sum", "join"))
    diagram.connect(box, total)
    for cut in shape.shortcuts:
        diagram.connect(_output(cut.source, diagram), total, "1×1 conv, BN" if cut.projects else "", dashed=True)
    diagram.chain.append(total)


def _output(index: int, diagram: Diagram) -> str:
    """The node holding layer `index`'s output: its sum node when it has one."""
    return f"sum{index}" if any(node.id == f"sum{index}" for node in diagram.nodes) else f"layer{index}"


def _nas_diagram(arch: Architecture, diagram: Diagram, image_shape: tuple[int, int, int]) -> None:
    layers = arch.layers
    shapes = nas_wiring(layers, image_shape)
    image = diagram.add(Node("image", "image", _size(image_shape), "input"))
    diagram.chain.append(image)
    for layer, shape in zip(layers, shapes):
        if shape.merge == "sum":
            _sum_layer(layer, shape, diagram, image)
            continue
        box = _nas_box(layer, shape)
        _, height, width = shape.in_shape
        if not layer.inputs:
            target = diagram.add(box)
            # Layer 0 reads the image by construction; any later layer only by rule 1.
            diagram.connect(image, target, "" if layer.index == 0 else "rule 1", dashed=layer.index > 0)
            diagram.chain.append(target)
            continue
        labels = [f"zero-pad to {height}×{width}" if pad else "" for pad in shape.pads]
        diagram.add_reading(box, [_output(j, diagram) for j in shape.sources], labels, layer.index)
    head = diagram.add(Node("head", "classifier", "global avg pool of each map\n→ concat → FC", "head"))
    for j in loose_ends(layers):
        diagram.connect(_output(j, diagram), head, "rule 2", dashed=True)
    softmax = diagram.add(Node("softmax", "softmax", kind="output"))
    diagram.connect(head, softmax)
    diagram.chain += [head, softmax]


def _macro_diagram(arch: Architecture, diagram: Diagram, image_shape: tuple[int, int, int]) -> None:
    layers = arch.layers
    width = macro_width(layers)
    shapes = conv_out_shapes(layers, image_shape)
    points = macro_pool_points(len(layers))
    image = diagram.add(Node("image", "image", _size(image_shape), "input"))
    stem_out = _size((width, *image_shape[1:]))
    prev = diagram.add(Node("stem", "stem · conv 3×3", f"{width} filters\n→ {stem_out}", "stem"))
    diagram.connect(image, prev)
    diagram.chain += [image, prev]
    output: dict[int, str] = {}  # node holding each layer's output
    for layer, shape in zip(layers, shapes):
        i = layer.index
        head = OPS.get(layer.op).describe_parts(layer.params)[0]  # a plugin's kernel, say: the width is the net's
        title = f"layer {i} · {op_label(layer.op)}" + (f" {head}" if head else "")
        box = diagram.add(Node(f"layer{i}", title, f"stride 1 → {_size(shape)}", op_kind(layer.op)))
        diagram.connect(prev, box)
        diagram.chain.append(box)
        output[i] = box
        if layer.inputs:
            total = diagram.add(Node(f"sum{i}", "+", "sum, BN", "join"))
            diagram.connect(box, total)
            for j in layer.inputs:
                halvings = sum(j <= p < i for p in points)
                diagram.connect(output[j], total, _HALVED[halvings], dashed=True)
            diagram.chain.append(total)
            output[i] = total
        prev = output[i]
        if i in points and i + 1 < len(layers):
            after = shapes[i + 1] if i + 1 < len(shapes) else shapes[i]
            reduce = diagram.add(Node(f"reduce{i}", "factorized reduce", f"every map read later: {shape[1]}→{after[1]}",
                                      "reduce"))
            diagram.connect(prev, reduce)
            diagram.chain.append(reduce)
            prev = reduce
    head = diagram.add(Node("head", "classifier", "global avg pool → FC", "head"))
    softmax = diagram.add(Node("softmax", "softmax", kind="output"))
    diagram.connect(prev, head)
    diagram.connect(head, softmax)
    diagram.chain += [head, softmax]


def conv_diagram(arch: Architecture, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Diagram:
    """The diagram of a NAS or ENAS-macro conv child reading images of `image_shape` (C, H, W)."""
    if not arch.layers:
        raise ArchitectureError("a conv network needs at least one layer", where=arch.tokens)
    family = "NAS" if uses_nas_wiring(arch.layers) else "ENAS macro"
    title = f"{arch.space}: {family} network, {len(arch.layers)} layers"
    diagram = Diagram(title=title, comment=arch.tokens)
    (_nas_diagram if family == "NAS" else _macro_diagram)(arch, diagram, image_shape)
    return diagram

