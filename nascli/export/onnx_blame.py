"""Which op of a child the ONNX exporter cannot take, said in one line instead of the exporter's traceback.

When the whole child fails to export, each registry op in it (the modules
`make_op` tagged with `nascli_op`, built-in or from a plugin) is exported on
its own, fed the input it got in a forward pass of the child; the first that
fails is named with its place in the child. Only a failure outside every op
(a cell's own wiring) is reported as the child's.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from ..errors import ChildError
from ..ops import OpCall
from .onnx_export import run_exporter

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OVERLOAD = re.compile(r"OpOverload\(op='([^']+)'")


def exporter_reason(error: BaseException) -> str:
    """The root cause of an exporter failure, in one short line."""
    root, seen = error, set()
    while (root.__cause__ or root.__context__) is not None and id(root) not in seen:
        seen.add(id(root))
        root = root.__cause__ or root.__context__
    text = _ANSI.sub("", str(root)).strip()
    overload = _OVERLOAD.search(text)
    if overload:
        return f"ONNX has no function for the torch op {overload.group(1)}"
    first = text.splitlines()[0] if text else ""
    line = f"{type(root).__name__}: {first}" if first else type(root).__name__
    return line if len(line) <= 240 else line[:239] + "…"


def _op_inputs(module: nn.Module, child: nn.Module, places: list[str], args: tuple) -> dict[str, tuple[Tensor, ...]]:
    """The first input each of `child`'s modules at `places` got in one forward pass of `module` on `args`."""
    seen: dict[str, tuple[Tensor, ...]] = {}
    hooks = []
    for place in places:
        def keep(_module: nn.Module, inputs: tuple, place: str = place) -> None:
            seen.setdefault(place, tuple(t.detach() for t in inputs))
        hooks.append(child.get_submodule(place).register_forward_pre_hook(keep))
    try:
        with torch.no_grad():
            module(*args)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def blame(module: nn.Module, generated: nn.Module, built: nn.Module, args: tuple, error: BaseException) -> ChildError:
    """The error to report for `error`, raised exporting `module` on `args`: `generated` or the wrapper
    around it, whose module tree is `built`'s (where `make_op` tagged each op)."""
    calls = {place: m.nascli_op for place, m in built.named_modules() if isinstance(getattr(m, "nascli_op", None),
                                                                                     OpCall)}
    inputs = _op_inputs(module, generated, list(calls), args)
    tried = set()
    for place, call in calls.items():
        key = (call.name, call.stride, call.params)
        if key in tried or place not in inputs:
            continue
        tried.add(key)
        try:
            run_exporter(generated.get_submodule(place).eval(), inputs[place], None, None)
        except Exception as op_error:  # noqa: BLE001  (any exporter failure is this op's)
            return ChildError(f"op '{call.name}' cannot be exported to ONNX: {exporter_reason(op_error)}",
                              where=f"{call.block} module {place}")
    return ChildError(f"this child cannot be exported to ONNX: {exporter_reason(error)}")
