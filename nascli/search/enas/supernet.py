"""ENAS's shared weights: one super-network per space, each (place, op) with its own weights.

A child is never a second copy of these weights. `SharedWeights.run(arch, ...)`
builds the child `build_child` would build, on the meta device (no memory, no
initialisation), and calls it with `torch.func.functional_call` on tensors
looked up in the super-network; so the child's forward is `build_child`'s own
code, gradients land in the shared weights, and batch-norm running statistics
update the shared buffers in place. `extract(arch)` copies the same tensors
into a real child, which computes exactly what `run` computes.

What is shared, per family (the key of every child tensor is `_key`'s):
- ENAS macro (`MacroConvNet`): the stem and classifier; per layer, one module
  per op, and the batch norm after the sum of skips; per factorized-reduction
  point, one reduction per earlier layer it may halve.
- ENAS micro (`MicroNet`): stem, classifier and each cell's input
  calibrations; per (cell, node, left/right, op, input state) one module, as the
  reference code keeps one weight per possible input (`w[prev_cell]`); each
  cell's output 1x1 conv is one weight over all of its states, from which a
  child takes the blocks of its loose ends (the reference's `tf.gather`).
  The cell of each position is the one `MicroNet` built there (`layout`), so
  DARTS-like spaces (`network stages S repeat R width W`) share as ENAS's do.
- Dense cells (`DenseNet`, NAS-Bench-201): stem, residual reductions, last
  batch norm and classifier; per (cell, edge i->j, op) one module (`none`
  has none). A child runs only the op each edge picked.
- ENAS recurrent cell (`DagCell` in `LanguageModel`): embedding, decoder and
  node 0's projections; per (node, previous node) one projection W_{j,prev},
  as in the paper's formula.
- NAS tree cell (`TreeCell` in `LanguageModel`): every child has the same
  tensors (embedding, decoder, each leaf's W_x and W_h; inner nodes, combines,
  activations and the memory-cell wiring have no weights), so all are shared
  by name: a leaf keeps its projections whatever it combines them with.
NAS conv children (`conv`, `max_pool` layers) are refused with the reason: a
layer's input is the concatenation of a sampled set of layers with sampled
widths and kernels, so its weight has no fixed shape to share.

The super-network's tensors are taken from children that `build_child` builds
with its usual initialisation, chosen to cover every key (`_covering`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ...arch import Architecture, architecture
from ...arch.tokens import Assignment
from ...children import ChildConfig, build_child
from ...children.convnet import uses_nas_wiring
from ...data.base import Task
from ...errors import ChildError
from ...space.compiler import CompiledSpace

Family = str  # "macro" | "micro" | "dense" | "dag" | "tree"
LANGUAGE_FAMILIES = ("dag", "tree")


def family_of(arch: Architecture) -> Family:
    """Which ENAS family an architecture belongs to; ChildError where weights cannot be shared."""
    if arch.layers and not uses_nas_wiring(arch.layers):  # any registered op (plugins too) wired as ENAS macro
        return "macro"
    if arch.cells:
        return "micro"
    if arch.dense:
        return "dense"
    if arch.dag:
        return "dag"
    if arch.tree:
        return "tree"
    raise ChildError("ENAS shares weights only in ENAS macro wiring, cell spaces (ENAS micro, DARTS-like, dense "
                     "NAS-Bench-201 cells), ENAS's recurrent cell and the NAS tree cell: a NAS conv layer reads the "
                     "concatenation of a sampled set of layers with sampled filter counts and kernel sizes, so "
                     "its weight has no one shape that every child could use", where=arch.space)


def _covering(compiled: CompiledSpace) -> Iterator[Assignment]:
    """Assignments whose children together use every shared key: each op (with each value of each
    op parameter, such as a plugin's kernel) at each place, on each input."""
    decisions = compiled.decisions(compiled.max_depth)
    ops = max((len(d.options) for d in decisions if d.kind == "choice" and d.condition is None), default=1)
    inputs = max((len(d.candidates) for d in decisions if d.kind == "index"), default=1)
    nested: dict[str, int] = {}  # an op's own parameters: per name, the most values it takes
    for d in decisions:
        if d.kind == "choice" and d.condition is not None:
            nested[d.name] = max(nested.get(d.name, 1), len(d.options))
    for op, src, *params in itertools.product(range(ops), range(inputs), *map(range, nested.values())):
        picks = dict(zip(nested, params))
        assignment: Assignment = {}
        for d in decisions:
            if d.kind == "choice":
                assignment[d.path] = d.options[picks.get(d.name, op) % len(d.options)].value
            elif d.kind == "anchor":  # every skip: every skip's batch norm and reduction exists
                assignment[d.path] = tuple(d.candidates)
            else:
                assignment[d.path] = d.candidates[min(src, len(d.candidates) - 1)]
        yield assignment


Key = tuple[str, tuple[int, ...] | None]  # shared key; for a sliced weight, the state blocks taken


def _op_key(layer) -> str:
    """A layer's op and the parameters that shape it (a plugin's kernel, say); the width is the space's."""
    shape = ",".join(f"{k}={v}" for k, v in sorted(layer.params.items()) if k != "filters")
    return (f"{layer.op}[{shape}]" if shape else layer.op).replace(".", "_")  # no '.' in a parameter name


def _macro_key(parts: list[str], arch: Architecture, child: nn.Module) -> Key:
    if parts[0] == "layers" and parts[2] == "op":  # layers.i.op.* -> one module per (layer, op and its params)
        return f"layers:{parts[1]}:{_op_key(arch.layers[int(parts[1])])}:" + ":".join(parts[3:]), None
    if parts[0] == "reductions":  # reductions.i.k.* -> per (point, earlier layer halved)
        layer = child._reduced[int(parts[1])][int(parts[2])]
        return f"reductions:{parts[1]}:from{layer}:" + ":".join(parts[3:]), None
    return ":".join(parts), None


def _micro_key(parts: list[str], child: nn.Module) -> Key:
    if parts[0] != "cells":
        return ":".join(parts), None
    c, cell_module = int(parts[1]), child.cells[int(parts[1])]
    cell = child.layout[c]  # the normal or reduction cell record, whatever the space's `network` stack
    if parts[2] == "nodes":  # cells.c.nodes.n.side.* -> per (node, side, op, input state)
        node, side = cell.nodes[int(parts[3])], int(parts[4])
        op, src = (node.left_op, node.left) if side == 0 else (node.right_op, node.right)
        return f"cells:{c}:nodes:{parts[3]}:{side}:{op}:from{src}:" + ":".join(parts[5:]), None
    if parts[2] == "fit":  # cells.c.fit.k.* -> per loose cell input
        return f"cells:{c}:fit:from{cell_module._loose[int(parts[3])]}:" + ":".join(parts[4:]), None
    if parts[2:] == ["combine", "1", "weight"]:  # 1x1 conv over the loose ends: their blocks of one weight
        return f"cells:{c}:combine:1:weight", cell_module._loose
    return ":".join(parts), None


def _dense_key(parts: list[str], arch: Architecture) -> Key:
    if parts[0] == "cells" and parts[2] == "edges":  # cells.c.edges.k.* -> per (cell, edge i->j, op)
        edge = arch.dense.edges[int(parts[3])]
        return f"cells:{parts[1]}:edge{edge.source}-{edge.target}:{edge.op}:" + ":".join(parts[4:]), None
    return ":".join(parts), None  # stem, residual reductions, last BN, classifier: in every child


def _dag_key(parts: list[str], arch: Architecture) -> Key:
    if parts[:2] == ["cell", "node_proj"]:  # node j (listed at j-1) -> per (node, previous node)
        node = arch.dag[int(parts[2]) + 1]
        return f"cell:node{node.index}:from{node.prev}:" + ":".join(parts[3:]), None
    return ":".join(parts), None


def _states(arch: Architecture) -> int:
    """States of a micro cell (inputs + nodes): the blocks of a whole output-conv weight."""
    return arch.cells[0].inputs + len(arch.cells[0].nodes)


def space_family(compiled: CompiledSpace) -> Family:
    """The ENAS family of a space's children; ChildError (with the reason) where weights cannot be shared."""
    return family_of(architecture(compiled, next(_covering(compiled)), compiled.max_depth))


class SharedWeights(nn.Module):
    """The super-network: `weights` and `stats` hold every child tensor under its shared key."""

    def __init__(self, compiled: CompiledSpace, task: Task, config: ChildConfig):
        super().__init__()
        self.compiled, self.task, self.config = compiled, task, config
        self.family = space_family(compiled)
        self.weights = nn.ParameterDict()
        self.stats = nn.Module()  # batch-norm running statistics, one buffer per key
        for assignment in _covering(compiled):
            arch = architecture(compiled, assignment, compiled.max_depth)
            child = build_child(arch, task, config)
            for name, tensor in _tensors(child):
                key, blocks = self.key(name, arch, child)
                if key in self.weights or key in self.stats._buffers:
                    continue
                if blocks is not None:  # made whole: one block per state, initialised as a conv of that fan-in
                    whole = tensor.new_empty(tensor.shape[0], tensor.shape[1] // len(blocks) * _states(arch),
                                             *tensor.shape[2:])
                    tensor = nn.Parameter(nn.init.kaiming_uniform_(whole, a=5 ** 0.5))
                if isinstance(tensor, nn.Parameter):
                    self.weights[key] = nn.Parameter(tensor.detach().clone())
                else:
                    self.stats.register_buffer(key, tensor.detach().clone())

    def key(self, name: str, arch: Architecture, child: nn.Module) -> Key:
        """The shared key of a child tensor `name` (and the state blocks it takes, for a sliced one)."""
        parts = name.split(".")
        if self.family == "macro":
            return _macro_key(parts, arch, child)
        if self.family == "micro":
            return _micro_key(parts, child)
        if self.family == "dense":
            return _dense_key(parts, arch)
        if self.family == "dag":
            return _dag_key(parts, arch)
        return ":".join(parts), None  # tree: one shape per name in every child

    def child_tensors(self, arch: Architecture, child: nn.Module) -> dict[str, Tensor]:
        """Every parameter and buffer of `child` (built for `arch`) as a tensor of the super-network."""
        if family_of(arch) != self.family:
            raise ChildError(f"a {family_of(arch)} child cannot run on {self.family} shared weights",
                             where=arch.space)
        out = {}
        for name, _ in _tensors(child):
            key, blocks = self.key(name, arch, child)
            if key not in self.weights and key not in self.stats._buffers:
                raise ChildError(f"no shared weight for {name} ({key}): an op parameter the covering children "
                                 "did not reach", where=arch.tokens)
            shared = self.weights[key] if key in self.weights else self.stats._buffers[key]
            if blocks is not None:
                width = shared.shape[1] // _states(arch)
                shared = torch.cat([shared.narrow(1, b * width, width) for b in blocks], 1)
            out[name] = shared
        return out

    def skeleton(self, arch: Architecture) -> nn.Module:
        """`build_child(arch)` without tensors of its own (meta device): the code a shared child runs."""
        with torch.device("meta"):
            return build_child(arch, self.task, self.config)

    def run(self, arch: Architecture, *inputs, train: bool):
        """`build_child(arch)(*inputs)` on the shared weights, in training or evaluation mode."""
        child = self.skeleton(arch).train(train)
        return torch.func.functional_call(child, self.child_tensors(arch, child), inputs)

    @torch.no_grad()
    def extract(self, arch: Architecture) -> nn.Module:
        """A stand-alone child holding copies of its shared weights (for export or retraining elsewhere)."""
        child = build_child(arch, self.task, self.config)
        for name, tensor in self.child_tensors(arch, child).items():
            target = child.get_parameter(name) if _is_param(child, name) else child.get_buffer(name)
            target.copy_(tensor)
        return child


def _tensors(child: nn.Module) -> Iterator[tuple[str, Tensor]]:
    """Parameters (tied ones once) then buffers, by name."""
    yield from child.named_parameters()
    yield from child.named_buffers()


def _is_param(child: nn.Module, name: str) -> bool:
    module, _, leaf = name.rpartition(".")
    return leaf in child.get_submodule(module)._parameters
