"""The built-in ops: one declaration each (torch-free; the modules are in nascli/children/ops.py).

NAS ops (`conv`, `max_pool`) set their own kernel and stride; ENAS ops
(Pham et al. 2018) and DARTS ops (Liu et al. 2019) are fixed-size and take
their width from the layer's `filters` (or the cell's width); `none` and
`identity` serve NAS-Bench-201/DARTS-style choices; `mbconv` is MobileNetV2's
inverted residual (ProxylessNAS/MnasNet search over its kernel and expansion);
`basic_block` is the two 3x3 convolutions of ResNet's basic block (He et al.
2016), whose shortcut a `merge = sum` layer adds.
"""

from __future__ import annotations

from . import OpSpec, Param, declare_op

_M = "nascli.children.ops:"
FILTERS = Param("filters")
STRIDE = Param("stride", default=1)


def _fixed(name: str, layer: str, cell: str | None = None, keeps: bool = False, params=(FILTERS,)) -> None:
    """An ENAS/DARTS-style op: its width comes from `filters`; `cell` is its micro-cell factory."""
    factories = {"layer": _M + layer} | ({"cell": _M + cell} if cell else {})
    declare_op(OpSpec(name=name, factories=factories, params=params, keeps_channels=keeps))


declare_op(OpSpec(
    name="conv", factories={"layer": _M + "nas_conv"}, nas=True,
    params=(Param("filter_height"), Param("filter_width"), FILTERS, STRIDE),
    summary="{filter_height}×{filter_width} | {filters} filters"))
declare_op(OpSpec(
    name="max_pool", factories={"layer": _M + "nas_max_pool"}, nas=True, keeps_channels=True,
    params=(Param("pool_size", default=2), STRIDE), summary="{pool_size}×{pool_size}"))
_fixed("conv_3x3", "conv_3x3", "conv_3x3")
_fixed("conv_5x5", "conv_5x5", "conv_5x5")
_fixed("sep_conv_3x3", "sep_conv_3x3", "cell_sep_conv_3x3")
_fixed("sep_conv_5x5", "sep_conv_5x5", "cell_sep_conv_5x5")
_fixed("max_pool_3x3", "max_pool_3x3", "max_pool_3x3", params=())
_fixed("avg_pool_3x3", "avg_pool_3x3", "avg_pool_3x3", params=())
_fixed("identity", "identity", "cell_identity", keeps=True, params=())
_fixed("conv_1x1", "conv_1x1", "conv_1x1")
_fixed("dil_conv_3x3", "dil_conv_3x3", "dil_conv_3x3")
_fixed("dil_conv_5x5", "dil_conv_5x5", "dil_conv_5x5")
_fixed("none", "zero", "zero", keeps=True, params=())
_fixed("basic_block", "basic_block")  # ResNet's basic block body; a `merge = sum` layer adds the shortcut
declare_op(OpSpec(  # table rows: Linear -> activation -> dropout (nascli/children/mlp.py)
    name="dense", factories={"layer": "nascli.children.mlp:dense"}, tasks=("tabular",),
    params=(Param("units"), Param("activation", domain="activation", default="relu"),
            Param("dropout", domain="nonneg", default=0.0)),
    summary="{units} units | {activation}, dropout {dropout}"))
declare_op(OpSpec(
    name="mbconv", factories={"layer": _M + "mbconv"}, nas=True,
    params=(Param("kernel", values=(3, 5, 7), default=3), Param("expansion", default=6),
            Param("se", domain="nonneg", values=(0, 1), default=0), FILTERS, STRIDE),
    summary="{kernel}×{kernel} | expansion {expansion}, se {se}, {filters} filters"))
