"""A test plugin whose op ONNX cannot take: a conv followed by a custom torch op with no ONNX function.

Custom kernels (torch.library ops) are the usual reason a plugin op does not
export: torch.export keeps the op, and torch.onnx has nothing to turn it into.
"""

import torch
from torch import nn

from nascli.ops import Param, register_op


@torch.library.custom_op("nascli_test::wobble", mutates_args=())
def wobble(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sin(x)


@wobble.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Wobble(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return wobble(x)


@register_op("wobble_conv", blocks=("layer",), params=[Param("filters")], summary="wobbled | {filters} filters")
def wobble_conv(c_in: int, c_out: int, stride: int, params: dict) -> nn.Module:
    """3x3 conv (stride) -> x * sin(x) through the custom op: (B, c_in, H, W) -> (B, c_out, H/s, W/s)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), Wobble())
