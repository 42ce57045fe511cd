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
from ..children.convnet import uses_nas_wiring, macro_pool_points
from ..errors import ArchitectureError
from ..ops import OPS
from .diagram import Diagram, Node, op_kind, op_label
from .shapes import LayerShape, loose_ends, macro_sizes, nas_shapes

IMAGE_SHAPE = (3, 32, 32)  # CIFAR-10, the datasets' only image size
_HALVED = ("", "halved", "halved twice")  # skip labels, by the reductions between the two layers


def _size(shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"{h}×{w}×{c}"


def _nas_box(layer: Layer, shape: LayerShape) -> Node:
    head, detail = OPS.get(layer.op).describe_parts(layer.params)
    title = f"layer {layer.index} · {op_label(layer.op)}" + (f" {head}" if head else "")
    detail = f"{detail}\n→ {_size(shape.out_shape)}" if detail else f"→ {_size(shape.out_shape)}"
    return Node(f"layer{layer.index}", title, detail, op_kind(layer.op))


def _nas_diagram(arch: Architecture, diagram: Diagram) -> None:
    layers = arch.layers
    shapes = nas_shapes(layers, IMAGE_SHAPE)
    image = diagram.add(Node("image", "image", _size(IMAGE_SHAPE), "input"))
    diagram.chain.append(image)
    for layer, shape in zip(layers, shapes):
        box = _nas_box(layer, shape)
        _, height, width = shape.in_shape
        if not layer.inputs:
            target = diagram.add(box)
            # Layer 0 reads the image by construction; any later layer only by rule 1.
            diagram.connect(image, target, "" if layer.index == 0 else "rule 1", dashed=layer.index > 0)
            diagram.chain.append(target)
            continue
        sources = [f"layer{j}" for j in shape.sources]
        target = box.id
        if len(sources) > 1:
            target = diagram.add(Node(f"concat{layer.index}", "concat", kind="join"))
            diagram.chain.append(target)
        for src, pad in zip(sources, shape.pads):
            diagram.connect(src, target, f"zero-pad to {height}×{width}" if pad else "")
        diagram.add(box)
        if target != box.id:
            diagram.connect(target, box.id)
        diagram.chain.append(box.id)
    head = diagram.add(Node("head", "classifier", "global avg pool of each map\n→ concat → FC", "head"))
    for j in loose_ends(layers):
        diagram.connect(f"layer{j}", head, "rule 2", dashed=True)
    softmax = diagram.add(Node("softmax", "softmax", kind="output"))
    diagram.connect(head, softmax)
    diagram.chain += [head, softmax]


def _macro_diagram(arch: Architecture, diagram: Diagram) -> None:
    layers = arch.layers
    width = next((int(layer.params["filters"]) for layer in layers if "filters" in layer.params), 36)
    sizes = macro_sizes(len(layers), IMAGE_SHAPE[1])
    points = macro_pool_points(len(layers))
    image = diagram.add(Node("image", "image", _size(IMAGE_SHAPE), "input"))
    stem_out = _size((width, *IMAGE_SHAPE[1:]))
    prev = diagram.add(Node("stem", "stem · conv 3×3", f"{width} filters\n→ {stem_out}", "stem"))
    diagram.connect(image, prev)
    diagram.chain += [image, prev]
    output: dict[int, str] = {}  # node holding each layer's output
    for layer, size in zip(layers, sizes):
        i = layer.index
        box = diagram.add(Node(f"layer{i}", f"layer {i} · {op_label(layer.op)}", f"→ {size}×{size}×{width}",
                               op_kind(layer.op)))
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
            reduce = diagram.add(Node(f"reduce{i}", "factorized reduce", f"every map read later: {size}→{size // 2}",
                                      "reduce"))
            diagram.connect(prev, reduce)
            diagram.chain.append(reduce)
            prev = reduce
    head = diagram.add(Node("head", "classifier", "global avg pool → FC", "head"))
    softmax = diagram.add(Node("softmax", "softmax", kind="output"))
    diagram.connect(prev, head)
    diagram.connect(head, softmax)
    diagram.chain += [head, softmax]


def conv_diagram(arch: Architecture) -> Diagram:
    """The diagram of a NAS or ENAS-macro conv child."""
    if not arch.layers:
        raise ArchitectureError("a conv network needs at least one layer", where=arch.tokens)
    family = "NAS" if uses_nas_wiring(arch.layers) else "ENAS macro"
    title = f"{arch.space}: {family} network, {len(arch.layers)} layers"
    diagram = Diagram(title=title, comment=arch.tokens)
    (_nas_diagram if family == "NAS" else _macro_diagram)(arch, diagram)
    return diagram

