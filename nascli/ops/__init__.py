"""The op registry: every op a space can name, built-in or from a plugin, is one `OpSpec`.

An entry declares the op's name, the block kinds it may appear in (`layer`:
a layer's `op`; `cell`: a micro-cell edge's `left_op`/`right_op`), the layer
parameters it reads (name, domain, allowed values, default), how its output
shape follows its input shape, and one module factory per block kind, all
with the same signature (as DARTS' and NAS-Bench-201's `OPS` tables):

    factory(c_in: int, c_out: int, stride: int, params: dict) -> nn.Module

Shape contract: an op maps (B, c_in, H, W) to (B, c_out, ceil(H / stride),
ceil(W / stride)). Every image layer op honours the layer's settings
(`LAYER_SETTINGS`: `stride`, `filters`, `merge`) whether or not it declares them:
the factory gets the layer's stride, and c_out is the layer's `filters`, or c_in
where the layer sets no width (what `keeps_channels` ops, pools, identity and
none, then keep). The compiler checks spaces against these entries; children,
render, export and the MAC count use only them.

To build one op module (the ENAS super-network holds one per layer and op):

    from nascli.ops import make_op
    module = make_op("sep_conv_3x3", c_in=36, c_out=36, stride=1, params={"filters": 36})

To add an op, register a factory (in nascli/ops/builtin.py for a built-in,
in any module for a plugin, see docs/plugins.md):

    @register_op("conv_7x1", params=[Param("filters")], summary="{filters} filters")
    def conv_7x1(c_in, c_out, stride, params):
        return nn.Conv2d(c_in, c_out, (7, 1), stride, (3, 0))

This module and the declarations never import torch, so `nascli inspect`
stays fast; factories given as "module:function" strings import on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import ChildError
from ..registry import Registry, RegistryError

Value = Union[int, float, str]
Factory = Callable[[int, int, int, Mapping[str, Value]], Any]  # -> nn.Module
BLOCK_KINDS = ("layer", "cell")
# A layer's own settings, which every image layer op honours (declared or not): its stride, its width
# (`filters`: a pool or identity projects to it) and how it merges its skips (nascli/children/wiring.py).
LAYER_SETTINGS = ("filters", "stride", "merge")
SHOWN_APART = ("stride", "merge")  # settings that tables and figures show for every layer, not in its op's text


@dataclass(frozen=True)
class Param:
    """A layer parameter an op reads. `default` None: the space must decide it."""

    name: str
    domain: str = "posint"  # "posint", "nonneg" or "posnum" (see nascli.space.checks)
    values: tuple[Value, ...] | None = None  # the only values allowed; None: any value of the domain
    default: Value | None = None


@dataclass(frozen=True)
class OpSpec:
    """One registered op."""

    name: str
    factories: Mapping[str, Union[str, Factory]]  # block kind -> factory, or "module:function"
    params: tuple[Param, ...] = ()
    keeps_channels: bool = False  # reads no `filters`: keeps c_in channels where the layer sets no width
    nas: bool = False  # sets its own kernel and stride (NAS `conv`): a child with one is wired as NAS
    tasks: tuple[str, ...] = ("image",)
    summary: str | None = None  # str.format template of its params, "title part | detail part"
    plugin: str | None = None  # the importable module that registered it; None for built-ins
    factory_names: Mapping[str, str] = field(default_factory=dict)  # block kind -> function name in `plugin`

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(self.factories)

    @property
    def settings(self) -> tuple[str, ...]:
        """The layer settings it honours: all of `LAYER_SETTINGS` for an image op, none for a table's."""
        return LAYER_SETTINGS if "image" in self.tasks else ()

    def layer_params(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """A layer record's params: what the op reads (defaults filled in), then the layer settings it
        honours without declaring them, where the layer sets them."""
        params = self.fill(values)
        params.update({k: values[k] for k in self.settings if k in values and k not in params})
        return params

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def fill(self, given: Mapping[str, Value]) -> dict[str, Value | None]:
        """The parameters this op reads, given values first, then defaults."""
        return {p.name: given.get(p.name, p.default) for p in self.params}

    def factory(self, block: str) -> Factory:
        ref = self.factories.get(block)
        if ref is None:
            raise ChildError(f"op '{self.name}' cannot be used in a {block} (it can in: {', '.join(self.blocks)})")
        if isinstance(ref, str):
            module, _, attr = ref.partition(":")
            return getattr(importlib.import_module(module), attr)
        return ref

    def describe_parts(self, params: Mapping[str, Value]) -> tuple[str, str]:
        """Its parameters for people, as (what goes beside the op's name, the rest). The layer's stride
        and merge are left out: tables and figures show them, for every op, in a place of their own."""
        if self.summary:
            head, _, rest = self.summary.format(**params).partition(" | ")
            return head, rest
        return "", ", ".join(f"{k} {v}" for k, v in params.items() if k not in SHOWN_APART)

    def describe(self, params: Mapping[str, Value]) -> str:
        return ", ".join(part for part in self.describe_parts(params) if part)


OPS: Registry[OpSpec] = Registry("op")


def declare_op(spec: OpSpec) -> OpSpec:
    """Register an op declaration; unknown block kinds are refused."""
    bad = [b for b in spec.factories if b not in BLOCK_KINDS]
    if bad or not spec.factories:
        raise RegistryError(f"op '{spec.name}': blocks must be among {', '.join(BLOCK_KINDS)}, got {bad or 'none'}")
    return OPS.add(spec.name, spec)


def register_op(name: str, *, blocks: Sequence[str] = ("layer",), params: Sequence[Param] = (),
                keeps_channels: bool = False, nas: bool = False, summary: str | None = None) -> Callable[[Factory], Factory]:
    """Decorator: register `factory(c_in, c_out, stride, params) -> nn.Module` as op `name`.

    The factory serves every block kind in `blocks`. Ops registered from a
    module outside nascli are plugin ops: export imports that module.
    """

    def register(factory: Factory) -> Factory:
        module = getattr(factory, "__module__", "") or ""
        plugin = None if module.startswith("nascli.") else module
        declare_op(OpSpec(name=name, factories={b: factory for b in blocks}, params=tuple(params),
                          keeps_channels=keeps_channels, nas=nas, summary=summary, plugin=plugin,
                          factory_names={b: factory.__name__ for b in blocks}))
        return factory

    return register


def ops_for(block: str) -> tuple[str, ...]:
    """Names of the ops a block kind may use, in registration order."""
    return tuple(spec.name for spec in OPS.values() if block in spec.factories)


def out_size(size: int, stride: int) -> int:
    """Pixels per side after any op: ceil(size / stride), as TF's 'SAME' padding."""
    return -(-size // stride)


@dataclass(frozen=True)
class OpCall:
    """How an op module was made; export writes plugin ops back as this call."""

    name: str
    block: str
    c_in: int
    c_out: int
    stride: int
    params: tuple[tuple[str, Value], ...]


def make_op(name: str, c_in: int, c_out: int, stride: int = 1, params: Mapping[str, Value] | None = None,
            block: str = "layer"):
    """A fresh module of op `name` for `block`: (B, c_in, H, W) -> (B, c_out, ceil(H/stride), ceil(W/stride)).

    `params` may hold more than the op reads (a layer's whole record); the op
    gets what it declares, defaults filled in (a layer op must get every
    parameter without a default).
    """
    try:
        spec = OPS.get(name)
    except RegistryError as err:
        raise ChildError(err.message) from None
    filled = spec.fill(params or {})
    missing = [k for k, v in filled.items() if v is None]
    if missing and block == "layer":  # a cell edge's width is the cell's; its ops read no `filters`
        raise ChildError(f"op '{name}' needs the parameter(s) {', '.join(missing)}")
    module = spec.factory(block)(c_in, c_out, stride, filled)
    module.nascli_op = OpCall(name, block, c_in, c_out, stride, tuple(filled.items()))
    return module


from . import builtin  # noqa: E402,F401  (registers the built-in ops)

__all__ = ["LAYER_SETTINGS", "OPS", "OpCall", "OpSpec", "Param", "declare_op", "make_op", "ops_for", "out_size",
           "register_op"]
