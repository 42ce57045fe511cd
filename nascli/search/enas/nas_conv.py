"""Shared weights for NAS-wired conv children (`NasConvNet`: spaces conv, conv_strides, conv_pool).

A NAS layer reads the concatenation of a sampled set of earlier layers (or the
image), with sampled filter counts and kernel sizes, so no one tensor shape
fits every child. As once-for-all networks (Cai et al. 2020) do, each
(layer, op) keeps one tensor at the largest shape it takes in the space, and
a child's tensor is a slice of it (`NasLayout.slice`):
- output channels: the first F, for the conv's filters and its batch norm
  (weight, bias and running statistics, the latter as views, so that
  training-mode batch norm updates the shared buffers in place);
- kernel: the centred kh x kw crop of the largest kernel (OFA's centre crop;
  OFA's kernel transform matrices, a learned map from the large kernel's
  centre to a small kernel, are not used: a child runs the crop as it is);
- input channels: the shared tensor's input dimension holds one block per
  candidate source of the layer (the image, then each earlier layer it may
  read), each as wide as that source's widest output; a child takes, in its
  own order, the first `width` channels of the block of each source it reads.
  The classifier's Linear reads the loose ends the same way, one block per layer.
A layer's widest output is its largest `filters`; an op that keeps its input's
channels (`max_pool`) is as wide as all it may read: the sum of its
candidates' widest outputs (or the image's channels). Stride, filter count and
kernel size pick a slice, not a tensor of their own (`SLICED`), so children
with other strides use the same tensors.

Ops: those whose weights are one dense convolution reading the concatenated
inputs followed by batch norms over its filters (NAS `conv`, ENAS
`conv_3x3`/`conv_5x5`/`conv_1x1`), or none at all (`max_pool`, `identity`,
`none`, the ENAS pools when they keep the width). Any other op is refused with
the reason (`check_sliceable`): `mbconv` and the separable convs, say, have
convolutions whose widths follow the input width (an expansion of it, one
depthwise filter per input channel), which a prefix or a block cannot express.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ...arch import Architecture
from ...arch.records import Layer
from ...children.ops import ClassifierHead
from ...errors import ChildError
from ...arch.wiring import layer_merge, layer_stride, layer_width
from ...ops import OPS, make_op
from .keys import Runs, Slice, op_key

SLICED = ("filters", "filter_height", "filter_width", "stride")  # parameters that pick a slice, not a tensor
MAX_SHARED = 2 ** 28  # numbers (1 GiB of float32) the shared weights may hold, before SGD's momentum and gradients
ACCEPTED = "one convolution over the concatenated inputs and batch norms over its filters, or no weights"


class NasLayout:
    """The deepest child's wiring at the largest shapes, from the space's largest children (`archs`:
    every skip on, every `SLICED` choice at its largest, one per value of the other choices)."""

    def __init__(self, archs: list[Architecture], channels: int, classes: int):
        self.depth, self.space = len(archs[0].layers), archs[0].space
        summing = next((layer for arch in archs for layer in arch.layers if layer_merge(layer) == "sum"), None)
        if summing is not None:  # its shortcuts' projections depend on which skips a child picks
            raise ChildError("ENAS shares the weights of NAS-wired layers that concatenate their inputs; a "
                             "'merge = sum' layer's shortcuts are not shared; search it with --strategy reinforce or random",
                             where=f"{self.space}, layer {summing.index}")
        self.image, self.classes = self.depth, classes  # the image's slot, after the layers' (as NasConvNet's)
        self.ops: list[dict[str, Layer]] = [{} for _ in range(self.depth)]  # per layer: op key -> largest record
        for arch in archs:
            for layer in arch.layers:
                self.ops[layer.index].setdefault(op_key(layer, SLICED), layer)
        self.widths = [0] * self.depth + [channels]  # widest output per slot
        self.blocks: list[dict[int, int]] = []  # per layer: source slot -> offset of its input block
        for i, layer in enumerate(archs[0].layers):  # with every skip on, its inputs are its candidates
            self.blocks.append(self._offsets((self.image, *layer.inputs)))
            widest_in = max(channels, sum(self.widths[j] for j in layer.inputs))  # the image, or all it may read
            self.widths[i] = max(layer_width(op, widest_in) for op in self.ops[i].values())
        self.head = self._offsets(range(self.depth))  # any layer may be a loose end

    def _offsets(self, sources) -> dict[int, int]:
        offsets, start = {}, 0
        for j in sources:
            offsets[j], start = start, start + self.widths[j]
        return offsets

    def _in_width(self, blocks: dict[int, int]) -> int:
        return sum(self.widths[j] for j in blocks)

    def modules(self) -> Iterator[tuple[str, nn.Module]]:
        """(key prefix, module at the largest shape) per (layer, op), then the classifier, as
        `build_child` makes them (the op registry's factories, so the same initialisation)."""
        for i, ops in enumerate(self.ops):
            c_in = self._in_width(self.blocks[i])
            for key, layer in ops.items():
                module = make_op(layer.op, c_in, layer_width(layer, c_in), layer_stride(layer), layer.params)
                check_sliceable(module, layer, c_in, f"{self.space}, layer {layer.index}")
                yield f"layers:{i}:{key}", module
        yield "head", ClassifierHead(self._in_width(self.head), self.classes)

    def check(self, space: str) -> None:
        """ChildError where an op cannot be sliced or the largest tensors would not fit (`MAX_SHARED`)."""
        with torch.device("meta"):
            total = sum(t.numel() for _, module in self.modules() for t in module.state_dict().values())
        if total > MAX_SHARED:
            widest = max(range(self.depth), key=lambda i: self._in_width(self.blocks[i]))
            keeps = any(OPS.get(op.op).keeps_channels for ops in self.ops for op in ops.values())
            why = (" (an op that keeps its input's channels, such as max_pool, is as wide as all it may read, so the "
                   "widest output doubles with each layer)") if keeps else ""
            raise ChildError(f"the shared weights at {self.depth} layers would hold {total:,} numbers (at most "
                             f"{MAX_SHARED:,}): layer {widest} may read {self._in_width(self.blocks[widest]):,} "
                             f"channels{why}; search fewer layers (--depth)", where=space)

    def tensors(self) -> Iterator[tuple[str, Tensor]]:
        """(shared key, tensor) of every largest module."""
        for prefix, module in self.modules():
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                yield f"{prefix}:" + name.replace(".", ":"), tensor

    def key(self, name: str, arch: Architecture) -> str:
        """The shared key of child tensor `name`: per (layer, op and its unsliced parameters)."""
        parts = name.split(".")
        if parts[0] == "layers":
            return f"layers:{parts[1]}:{op_key(arch.layers[int(parts[1])], SLICED)}:" + ":".join(parts[2:])
        return ":".join(parts)  # head.fc.*

    def slice(self, name: str, shape: torch.Size, full: torch.Size, child: nn.Module) -> Slice:
        """The part of the shared tensor (shape `full`) that `child`'s tensor `name` (`shape`) is:
        a prefix of dimension 0 (filters, classes), the blocks of what it reads in dimension 1, and the
        centre of the rest (kernel)."""
        parts = name.split(".")
        if parts[0] == "layers":
            layer = int(parts[1])
            blocks, sources = self.blocks[layer], [j for j, _ in child._wiring[layer]]
        else:
            blocks, sources = self.head, list(child._loose)
        inputs: Runs = tuple((blocks[j], child.widths[j]) for j in sources)
        first = ((0, shape[0]),) if shape else ()  # (a batch norm's step count has no dimension)
        centres = tuple((((full[d] - shape[d]) // 2, shape[d]),) for d in range(2, len(shape)))
        return Slice(((first, inputs) + centres)[:len(shape)])


def check_sliceable(module: nn.Module, layer: Layer, c_in: int, where: str) -> None:
    """ChildError unless the op's weights are `ACCEPTED`: only then are a prefix of the filters, the
    blocks of the inputs and the centre of the kernel the same op at a smaller shape."""
    conv: nn.Conv2d | None = None
    for name, part in module.named_modules():
        if not [*part.parameters(recurse=False), *part.buffers(recurse=False)]:
            continue
        if conv is None and isinstance(part, nn.Conv2d) and part.groups == 1 and part.in_channels == c_in:
            conv = part
        elif not (conv is not None and isinstance(part, nn.BatchNorm2d) and part.num_features == conv.out_channels):
            raise ChildError(f"--strategy enas does not apply here: it cannot share the weights of op '{layer.op}' "
                             f"in a NAS-wired layer: its '{name}' {_why(part, conv, c_in)}, so a prefix of the filters "
                             f"and a block per input are not the op at a smaller shape; it shares ops whose weights "
                             f"are {ACCEPTED} (conv, max_pool, identity, none); search this space with --strategy "
                             "reinforce or random", where=where)


def _why(part: nn.Module, conv: nn.Conv2d | None, c_in: int) -> str:
    """Why a module with weights breaks the sliceable layout."""
    if isinstance(part, nn.Conv2d) and part.groups > 1:
        return f"is a grouped convolution ({part.groups} groups: a filter per channel it reads)"
    if isinstance(part, nn.Conv2d) and conv is not None:
        return "is a second convolution, whose input width is an internal width of the op (an expansion, say)"
    if isinstance(part, nn.Conv2d):
        return f"reads {part.in_channels} channels, not the {c_in} concatenated inputs"
    return f"({type(part).__name__}) has weights that are neither a convolution over the concatenated inputs " \
           "nor a batch norm over its filters"
