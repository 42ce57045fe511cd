"""A child cut into the units a latency table times: (position, record, input shape) per call.

A layer's time depends on its own record (op, kernel, filters, stride, expansion,
se ...) and on the shape it reads (channels, spatial size), so a unit's key holds
all three: two children that share a layer at a position, reading the same shape,
share one table entry, and a layer whose input changes (a wider layer before it,
another anchor) gets its own. The shapes come from one forward pass on the meta
device with a pre-hook on each unit (nothing is computed or allocated); the unit
modules are the child's own (children/convnet.py, micro.py, dense.py), so what is
timed is exactly what the child runs, on the inputs (values and memory layout)
the real child feeds it: the meta device gives the shapes but not the layout
(its kernels drop channels-last, which the CPU kernels keep), so the inputs to
time a unit on are taken from one real forward pass (`real_inputs`). What a per-unit sum leaves out (the loop,
concatenation and padding of inputs, elementwise skip sums) is the table's
measured fixed part (latency_table.py).

Chain spaces (conv, mobilenet, resnet...): one unit per layer op (and shortcut
projection), the classifier head. ENAS macro: the stem, each layer's op, its
skip BN, the factorized reductions, the head. ENAS micro: the stem, and per cell
position its input preparations, each node's left and right op, the loose-end
reductions and the combining 1x1 conv, at the cell's fixed width. Recurrent
cells and language models have no such sum (each step's ops run once per token
and overlap with the recurrence), nor do MLPs here: `LatencyTableError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..children.convnet import MacroConvNet, NasConvNet
from ..children.dense import DenseNet
from ..children.micro import MicroNet
from ..data.base import ImageTask, Task
from ..errors import NasError


class LatencyTableError(NasError):
    """A child whose latency is not the sum of per-(position, op) entries (recurrent cells, language models)."""


@dataclass(frozen=True)
class Unit:
    """One call of a unit module of a child: `path` in the child, and the table key it is timed under."""

    path: str  # e.g. "layers.3", "cells.2.nodes.1.0" (nn.Module.get_submodule)
    call: int  # the how-manieth call of that module in one forward pass (0: the first)
    key: str  # JSON of [position, record, input signature]



def _record(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _nas_units(arch: Architecture, model: NasConvNet) -> list[tuple[str, str, str]]:
    units = [(f"layers.{i}", f"layer {i}", _record([layer.op, layer.params])) for i, layer in enumerate(arch.layers)]
    if hasattr(model, "shortcuts"):
        units += [(f"shortcuts.{i}.{k}", f"layer {i} shortcut {k}", "shortcut")
                  for i, cuts in enumerate(model.shortcuts) for k in range(len(cuts))]
    return units + [("head", "head", "classifier")]


def _macro_units(arch: Architecture, model: MacroConvNet) -> list[tuple[str, str, str]]:
    units = [("stem", "stem", "conv 3x3 + bn")]
    for i, layer in enumerate(arch.layers):
        units.append((f"layers.{i}.op", f"layer {i}", _record([layer.op, layer.params])))
        if model.layers[i].bn is not None:
            units.append((f"layers.{i}.bn", f"layer {i} skip bn", "bn"))
        units += [(f"reductions.{i}.{k}", f"layer {i} reduction {k}", "factorized reduce")
                  for k in range(len(model.reductions[i]))]
    return units + [("head", "head", "classifier")]


def _micro_units(arch: Architecture, model: MicroNet) -> list[tuple[str, str, str]]:
    stem = _record([[layer.op, layer.params] for layer in arch.layers]) if arch.layers else "conv 3x3 + bn"
    units = [("stem", "stem", stem)]
    for c, (cell, record) in enumerate(zip(model.cells, model.layout)):
        where = f"cell {c} ({record.name})"
        units += [(f"cells.{c}.prep0", f"{where} input 0", "prep"), (f"cells.{c}.prep1", f"{where} input 1", "prep")]
        for k, node in enumerate(record.nodes):
            units += [(f"cells.{c}.nodes.{k}.0", f"{where} node {node.index} left", _record([node.left, node.left_op])),
                      (f"cells.{c}.nodes.{k}.1", f"{where} node {node.index} right",
                       _record([node.right, node.right_op]))]
        units += [(f"cells.{c}.fit.{k}", f"{where} loose end {k}", "fit") for k in range(len(cell.fit))]
        units.append((f"cells.{c}.combine", f"{where} combine", "combine"))
    return units + [("head", "head", "classifier")]


def _dense_units(arch: Architecture, model: DenseNet) -> list[tuple[str, str, str]]:
    cell = _record([[e.source, e.target, e.op] for e in arch.dense.edges])
    units = [("stem", "stem", "conv 3x3 + bn")]
    units += [(f"cells.{i}", f"cell {i}", "residual reduce" if type(m).__name__ == "ResidualReduce" else cell)
              for i, m in enumerate(model.cells)]
    return units + [("last", "last", "bn + relu"), ("head", "head", "classifier")]


_FAMILIES = ((NasConvNet, _nas_units), (MacroConvNet, _macro_units), (MicroNet, _micro_units), (DenseNet, _dense_units))


def unit_paths(arch: Architecture, model: nn.Module) -> list[tuple[str, str, str]]:
    """(module path, position, record) of each unit of `model`, built from `arch`; LatencyTableError where the
    child's latency is no sum of per-op entries."""
    for family, units in _FAMILIES:
        if isinstance(model, family):
            return units(arch, model)
    raise LatencyTableError(
        f"a latency table predicts chain, ENAS macro, cell and dense-cell image children; this {arch.task} child "
        f"({type(model).__name__}) is not a sum of per-(position, op) entries: use --latency-model measured",
        where=arch.space)


def _signature(value) -> list | None:
    """The shapes of a unit's arguments (a tensor's shape, a list's shapes in order)."""
    if isinstance(value, Tensor):
        return list(value.shape)
    if isinstance(value, (list, tuple)):
        return [_signature(v) for v in value]
    return None


def _capture(model: nn.Module, paths: list[str], run) -> dict[str, list[tuple]]:
    """The arguments of every call of the modules at `paths` while `run()` runs `model`, per path in call order."""
    calls: dict[str, list[tuple]] = {path: [] for path in paths}

    def hook(path: str):
        def record_call(_module: nn.Module, args: tuple) -> None:
            calls[path].append(args)
        return record_call

    handles = [model.get_submodule(path).register_forward_pre_hook(hook(path)) for path in calls]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return calls


def child_units(arch: Architecture, task: Task, batch: int, child: ChildConfig | None = None) -> list[Unit]:
    """Every unit call of `arch`'s child on a batch of `batch` inputs, with its key (shapes from the meta device)."""
    if arch.task != "image" or not isinstance(task, ImageTask):
        raise LatencyTableError(f"a latency table predicts image children, not {arch.task} ones (a recurrent "
                                "step's ops run once per token, overlapping the recurrence, so no per-op sum): use "
                                "--latency-model measured", where=arch.space)
    with torch.device("meta"):
        model = build_child(arch, task, child)
        images = torch.zeros(batch, task.channels, task.height, task.width)
    units = unit_paths(arch, model)
    with torch.no_grad():
        calls = _capture(model, [path for path, _, _ in units], lambda: model.eval()(images))
    return [Unit(path, n, json.dumps([position, record, _signature(args)]))
            for path, position, record in units for n, args in enumerate(calls[path])]


def real_inputs(model: nn.Module, units: list[Unit], images: Tensor) -> dict[tuple[str, int], tuple]:
    """The arguments the real `model` passes each of `units` on `images`, by (path, call number)."""
    with torch.no_grad():
        calls = _capture(model, sorted({u.path for u in units}), lambda: model.eval()(images))
    return {(u.path, u.call): calls[u.path][u.call] for u in units}
