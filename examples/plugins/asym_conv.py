"""A nascli op plugin: a factorized k x k convolution (k x 1 then 1 x k), as in Inception v3.

Load it with `nascli --plugin examples/plugins/asym_conv.py ...` (or put the
file on PYTHONPATH and pass `--plugin asym_conv`); a space that uses its op
says `requires asym_conv`. See docs/plugins.md.
"""

from torch import nn

from nascli.ops import Param, register_op


@register_op(
    "asym_conv",
    blocks=("layer", "cell"),  # a layer's `op`, and a micro cell's left_op / right_op
    params=[Param("kernel", values=(3, 5, 7), default=3), Param("filters")],
    summary="{kernel}×1 then 1×{kernel} | {filters} filters",
)
def asym_conv(c_in: int, c_out: int, stride: int, params: dict) -> nn.Module:
    """ReLU -> k x 1 conv (stride) -> 1 x k conv -> BN: (B, c_in, H, W) -> (B, c_out, ceil(H/s), ceil(W/s))."""
    k = int(params["kernel"])
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, (k, 1), (stride, 1), (k // 2, 0), bias=False),
        nn.Conv2d(c_out, c_out, (1, k), (1, stride), (0, k // 2), bias=False),
        nn.BatchNorm2d(c_out),
    )
