"""Built modules -> Python constructor expressions (`nn.Conv2d(60, 48, (5, 3), padding=(2, 1), bias=False)`).

`module_expr` walks a built child's module tree and writes each module as the
call that makes it again, with the same attribute names, so the generated
model's `state_dict()` keys are the built child's. Containers (nn.Sequential
and the nascli blocks that are plain Sequentials, nn.ModuleList) are written
on one line when short and one part per line otherwise. nascli's own modules
with their own forward become small helper classes (`HELPERS`) copied into
the generated file; modules whose wiring the parent's forward spells out
become a `Block` of named parts. Op modules that define `source_args()` have
their class's source copied as is (`class_sources`); a plugin op's module is
written as the call of its plugin's factory (`plugin_call`), and the file
imports the plugin.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re

from torch import nn

from ..children.convnet import MacroLayer
from ..children.ops import ClassifierHead, FactorizedReduce
from ..errors import ChildError
from ..ops import OPS, OpCall

WIDTH = 100  # longest generated line before a container is split over several lines

HELPERS = {
    "Block": '''
class Block(nn.Module):
    """Named parts; the enclosing module's forward spells out how they connect."""

    def __init__(self, **parts: nn.Module) -> None:
        super().__init__()
        for name, part in parts.items():
            self.add_module(name, part)
''',
    "FactorizedReduce": '''
class FactorizedReduce(nn.Module):
    """Halve H and W: two strided 1x1 convs, the second on the map shifted by a pixel; concat -> BN."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.path1 = nn.Conv2d(in_channels, out_channels // 2, 1, 2, bias=False)
        self.path2 = nn.Conv2d(in_channels, out_channels - out_channels // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, out, ceil(H/2), ceil(W/2))
        shifted = F.pad(x, [0, 1, 0, 1])[:, :, 1:, 1:]
        return self.bn(torch.cat([self.path1(x), self.path2(shifted)], 1))
''',
    "ClassifierHead": '''
class ClassifierHead(nn.Module):
    """Global average pooling of each feature map, concatenated -> dropout -> Linear."""

    def __init__(self, in_features: int, classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, classes)

    def forward(self, maps: list[Tensor]) -> Tensor:  # each (B, C_k, H_k, W_k) -> (B, classes)
        pooled = [m.mean([2, 3]) for m in maps]
        features = pooled[0] if len(pooled) == 1 else torch.cat(pooled, 1)
        return self.fc(self.dropout(features))
''',
}


def _pair(value) -> str:
    """A kernel/stride/padding: `3` when square, `(5, 3)` otherwise."""
    if isinstance(value, tuple):
        return str(value[0]) if len(set(value)) == 1 else str(tuple(value))
    return str(value)


def _number(value: float) -> str:
    return f'float("{value}")' if math.isinf(value) else repr(value)


def _call(name: str, args: list[str], options: dict[str, str | None]) -> str:
    """`name(args..., key=value...)`, leaving out options that are None (their defaults)."""
    parts = args + [f"{k}={v}" for k, v in options.items() if v is not None]
    return f"{name}({', '.join(parts)})"


def _leaf(m: nn.Module) -> str | None:
    """The constructor call of a torch leaf module, or None if `m` is not one we know."""
    if isinstance(m, nn.Conv2d):
        return _call("nn.Conv2d", [str(m.in_channels), str(m.out_channels), _pair(m.kernel_size)], {
            "stride": _pair(m.stride) if m.stride != (1, 1) else None,
            "padding": _pair(m.padding) if m.padding not in ((0, 0), "valid") else None,
            "dilation": _pair(m.dilation) if m.dilation != (1, 1) else None,
            "groups": str(m.groups) if m.groups != 1 else None,
            "bias": "False" if m.bias is None else None,
            "padding_mode": repr(m.padding_mode) if m.padding_mode != "zeros" else None})
    if isinstance(m, nn.BatchNorm2d):
        return _call("nn.BatchNorm2d", [str(m.num_features)], {
            "eps": repr(m.eps) if m.eps != 1e-5 else None,
            "momentum": repr(m.momentum) if m.momentum != 0.1 else None,
            "affine": "False" if not m.affine else None,
            "track_running_stats": "False" if not m.track_running_stats else None})
    if isinstance(m, nn.Linear):
        return _call("nn.Linear", [str(m.in_features), str(m.out_features)],
                     {"bias": "False" if m.bias is None else None})
    if isinstance(m, nn.Embedding) and m.padding_idx is None and m.max_norm is None:
        return f"nn.Embedding({m.num_embeddings}, {m.embedding_dim})"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        name = "nn.MaxPool2d" if isinstance(m, nn.MaxPool2d) else "nn.AvgPool2d"
        options = {"stride": _pair(m.stride), "padding": _pair(m.padding) if m.padding else None,
                   "ceil_mode": "True" if m.ceil_mode else None}
        if isinstance(m, nn.AvgPool2d):
            options["count_include_pad"] = None if m.count_include_pad else "False"
        elif m.dilation != 1:
            options["dilation"] = _pair(m.dilation)
        return _call(name, [_pair(m.kernel_size)], options)
    if isinstance(m, nn.ConstantPad2d):
        return f"nn.ConstantPad2d({tuple(m.padding)}, {_number(m.value)})"
    if isinstance(m, nn.Dropout):
        return f"nn.Dropout({m.p})"
    for simple in (nn.ReLU, nn.Identity):
        if type(m) is simple:
            return f"nn.{simple.__name__}()"
    return None


def call_expr(name: str, parts: list[str], indent: int, brackets: tuple[str, str] = ("", "")) -> str:
    """`name(a, b)` on one line if it fits at `indent`, else one part per line."""
    open_, close = brackets
    line = f"{name}({open_}{', '.join(parts)}{close})"
    if indent + len(line) <= WIDTH and "\n" not in line:
        return line
    pad = " " * (indent + 4)
    body = "".join(f"{pad}{part},\n" for part in parts)
    return f"{name}({open_}\n{body}{' ' * indent}{close})"


def module_expr(m: nn.Module, indent: int = 0, used: set[str] | None = None) -> str:
    """Python source that builds a module shaped like `m` (same submodule names); `used` collects HELPERS."""
    used = used if used is not None else set()
    call = getattr(m, "nascli_op", None)
    if isinstance(call, OpCall) and call.name in OPS and OPS.get(call.name).plugin:
        return plugin_call(call, used)
    leaf = _leaf(m)
    if leaf is not None:
        return leaf
    inner = indent + 4
    if isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward:
        return call_expr("nn.Sequential", [module_expr(c, inner, used) for c in m], indent)
    if isinstance(m, nn.ModuleList):
        return call_expr("nn.ModuleList", [module_expr(c, inner, used) for c in m], indent, ("[", "]"))
    if isinstance(m, FactorizedReduce):
        used.add("FactorizedReduce")
        return f"FactorizedReduce({m.path1.in_channels}, {m.bn.num_features})"
    if isinstance(m, ClassifierHead):
        used.add("ClassifierHead")
        return f"ClassifierHead({m.fc.in_features}, {m.fc.out_features}, dropout={m.dropout.p})"
    if callable(getattr(m, "source_args", None)):
        used.update(f"class:{type(sub).__module__}:{type(sub).__qualname__}" for sub in m.modules()
                    if callable(getattr(sub, "source_args", None)))
        return call_expr(type(m).__name__, m.source_args(), indent)
    if isinstance(m, MacroLayer):
        used.add("Block")
        return call_expr("Block", [f"{name}={module_expr(c, inner, used)}" for name, c in m.named_children()],
                          indent)
    raise ChildError(f"cannot write {type(m).__name__} as source; the exporter does not know it",
                     where=type(m).__module__)


_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def plugin_call(call: OpCall, used: set[str]) -> str:
    """`plugin.factory(c_in, c_out, stride, {params})`: the plugin op's module, made again by its factory."""
    spec = OPS.get(call.name)
    module, function = spec.plugin or "", spec.factory_names.get(call.block, "")
    if not _MODULE.fullmatch(module) or not function.isidentifier():
        raise ChildError(f"op '{call.name}' comes from '{module}', which is not an importable module name",
                         where=call.name)
    used.add(f"import:{module}")
    params = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in call.params) + "}"
    return f"{module}.{function}({call.c_in}, {call.c_out}, {call.stride}, {params})"


def helper_sources(used: set[str]) -> tuple[str, str]:
    """(import lines for plugins, helper class sources) for the names `module_expr` collected."""
    imports = "".join(f"import {key[7:]}  # plugin that registers ops used below; it must be importable\n"
                      for key in sorted(used) if key.startswith("import:"))
    helpers = "".join("\n" + (HELPERS.get(key) or "\n" + _class_source(key)) for key in sorted(used)
                      if not key.startswith("import:"))
    return imports, helpers


def _class_source(key: str) -> str:
    """The source of the class a "class:module:Name" key names (an op module with `source_args`)."""
    _, module, name = key.split(":")
    return inspect.getsource(getattr(importlib.import_module(module), name))
