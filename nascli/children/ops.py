"""Modules of the convolutional children, and the built-in ops' factories.

Each factory `(in_channels, out_channels, stride, params) -> nn.Module` is
declared in `nascli/ops/builtin.py`; build ops through `nascli.ops.make_op`.
A factory builds one self-contained module, so an ENAS super-network can hold
one instance per (layer, op) and share it across children. Modules with a
forward of their own define `source_args()` (their constructor's arguments),
so that `nascli export` can copy them into a generated file.

Where the papers are silent we follow the ENAS reference code
(melodyguan/enas, `general_child.py` / `micro_child.py`, fixed-arc branches):
- NAS "conv" is Conv(kh x kw) -> BN -> ReLU ("every layer is a convolution with
  ReLU and batch normalisation"); the bias is dropped because BN follows.
- ENAS ops start with ReLU: ReLU -> conv -> BN; a separable conv is ReLU ->
  depthwise k x k -> pointwise 1 x 1 -> BN, stacked twice in micro cells.
- ENAS pools are 3x3 'SAME' pools (avg excludes the padding, as TF does),
  followed by ReLU -> 1x1 conv -> BN only when the channel count changes; so
  is NAS's max-pool in a layer that sets a width, and `identity` becomes that
  1x1 projection, or a factorized reduction where the layer strides (ENAS,
  DARTS): every op honours the layer's stride and width.
- Every op keeps ceil(n / stride) pixels per side, so no input is too small.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import out_size  # noqa: F401  (re-exported for the builders)
from ..space.ir import Value


class ConvBnRelu(nn.Sequential):
    """NAS layer: rectangular conv with 'same' padding (kh//2, kw//2) -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], stride: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel[0] // 2, kernel[1] // 2), bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ReluConvBn(nn.Sequential):
    """ENAS block: ReLU -> k x k conv -> BN (ops, 1x1 projections, calibrations)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class SepConv(nn.Sequential):
    """ENAS separable conv: ReLU -> depthwise k x k (stride) -> pointwise 1x1 -> BN."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(in_channels, in_channels, kernel, stride, kernel // 2, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class SamePadMaxPool(nn.Sequential):
    """NAS max-pool of any size: -inf padding of pool_size-1 (bottom/right gets the odd one).

    Output is ceil(n / stride) for every n >= 1, so a 1x1 map pools to 1x1.
    """

    def __init__(self, pool_size: int, stride: int):
        before = (pool_size - 1) // 2
        after = pool_size - 1 - before
        super().__init__(
            nn.ConstantPad2d((before, after, before, after), float("-inf")),
            nn.MaxPool2d(pool_size, stride),
        )


class FactorizedReduce(nn.Module):
    """ENAS `_factorized_reduction`: halve H and W without losing every other pixel.

    Two strided 1x1 convs, the second on the map shifted by one pixel, each
    giving half the output channels; concatenated, then BN.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.path1 = nn.Conv2d(in_channels, out_channels // 2, 1, 2, bias=False)
        self.path2 = nn.Conv2d(in_channels, out_channels - out_channels // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, out, ceil(H/2), ceil(W/2))
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.path1(x), self.path2(shifted)], 1))


class DilConv(nn.Sequential):
    """DARTS dilated conv: ReLU -> depthwise k x k, dilation 2 (stride) -> pointwise 1x1 -> BN."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(in_channels, in_channels, kernel, stride, 2 * (kernel // 2), dilation=2, groups=in_channels,
                      bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class Zero(nn.Module):
    """The `none` op (DARTS, NAS-Bench-201): zeros shaped like a stride-`stride` op's output,
    `channels` wide (0: as wide as the input)."""

    def __init__(self, stride: int, channels: int = 0) -> None:
        super().__init__()
        self.stride = stride
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, channels or C, ceil(H/stride), ceil(W/stride))
        y = x[:, :, ::self.stride, ::self.stride]
        if self.channels > 0 and self.channels != y.shape[1]:
            y = y[:, :1].expand(-1, self.channels, -1, -1)
        return y.mul(0.0)

    def source_args(self) -> list[str]:
        return [str(self.stride)] + ([str(self.channels)] if self.channels else [])


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (MnasNet): channel weights from the global mean, 1/4 squeeze."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> same
        weights = self.expand(torch.relu(self.reduce(x.mean([2, 3], keepdim=True))))
        return x * torch.sigmoid(weights)

    def source_args(self) -> list[str]:
        return [str(self.reduce.in_channels), str(self.reduce.out_channels)]


class MBConv(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand -> BN -> ReLU6 -> depthwise k x k (stride) -> BN
    -> ReLU6 [-> squeeze-excite] -> 1x1 project -> BN; the input is added back when the shapes allow
    (stride 1, same width), as MobileNetV2 and MnasNet do."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int,
                 se: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6())
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6())
        self.excite = SqueezeExcite(hidden, max(1, in_channels // 4)) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.residual = stride == 1 and in_channels == out_channels
        self.config = (in_channels, out_channels, kernel, stride, expansion, se)

    def forward(self, x: Tensor) -> Tensor:  # (B, in, H, W) -> (B, out, ceil(H/stride), ceil(W/stride))
        y = self.project(self.excite(self.depthwise(self.expand(x))))
        return x + y if self.residual else y

    def source_args(self) -> list[str]:
        return [str(v) for v in self.config]


# Op factories, all `(c_in, c_out, stride, params) -> nn.Module`; nascli/ops/builtin.py names them.


def nas_conv(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return ConvBnRelu(i, o, (int(p["filter_height"]), int(p["filter_width"])), s)


def nas_max_pool(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    pool = SamePadMaxPool(int(p["pool_size"]), s)  # keeps its input's channels, unless the layer sets a width
    return pool if i == o else nn.Sequential(pool, ReluConvBn(i, o, 1))


def _pool_3x3(kind: str, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if kind == "max":
        pool: nn.Module = nn.MaxPool2d(3, stride, 1)  # implicit -inf padding
    else:
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if in_channels == out_channels:
        return pool
    return nn.Sequential(pool, ReluConvBn(in_channels, out_channels, 1))


def max_pool_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return _pool_3x3("max", i, o, s)


def avg_pool_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return _pool_3x3("avg", i, o, s)


def conv_1x1(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return ReluConvBn(i, o, 1, s)


def conv_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return ReluConvBn(i, o, 3, s)


def conv_5x5(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return ReluConvBn(i, o, 5, s)


def sep_conv_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return SepConv(i, o, 3, s)


def sep_conv_5x5(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return SepConv(i, o, 5, s)


def _cell_sep_conv(kernel: int, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    # ENAS `_fixed_conv` stacks two separable convs (stack_convs=2); only the first strides.
    return nn.Sequential(SepConv(in_channels, out_channels, kernel, stride),
                         SepConv(out_channels, out_channels, kernel, 1))


def cell_sep_conv_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return _cell_sep_conv(3, i, o, s)


def cell_sep_conv_5x5(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return _cell_sep_conv(5, i, o, s)


def dil_conv_3x3(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return DilConv(i, o, 3, s)


def dil_conv_5x5(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return DilConv(i, o, 5, s)


def identity(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    if s > 1 or i != o:
        return _cell_identity(i, o, s)
    return nn.Identity()


def cell_identity(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return _cell_identity(i, o, s)


def _cell_identity(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride > 1:  # ENAS: identity on a reduction cell's input is a factorized reduction
        return FactorizedReduce(in_channels, out_channels)
    if in_channels != out_channels:
        return ReluConvBn(in_channels, out_channels, 1)
    return nn.Identity()


def basic_block(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    # ResNet's basic block without its shortcut (a `merge = sum` layer adds it): two 3x3 convs, the first
    # strided, in the ENAS ops' ReLU -> conv -> BN order (pre-activation, He et al. 2016b).
    return nn.Sequential(ReluConvBn(i, o, 3, s), ReluConvBn(o, o, 3))


def zero(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return Zero(s, o if o != i else 0)


def mbconv(i: int, o: int, s: int, p: Mapping[str, Value]) -> nn.Module:
    return MBConv(i, o, int(p["kernel"]), s, int(p["expansion"]), int(p["se"]))


class ClassifierHead(nn.Module):
    """Global average pooling of each feature map, concatenated -> dropout -> Linear.

    Pooling each map before concatenating lets maps of different sizes meet
    (NAS rule 2) without zero-padding, which would only scale small maps' means down.
    """

    def __init__(self, in_features: int, classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, classes)

    def forward(self, maps: list[Tensor]) -> Tensor:  # each (B, C_k, H_k, W_k) -> (B, classes)
        pooled = [m.mean((2, 3)) for m in maps]
        features = pooled[0] if len(pooled) == 1 else torch.cat(pooled, 1)
        return self.fc(self.dropout(features))
