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
- NAS conv layers (`NasConvNet`: spaces conv, conv_strides, conv_pool): per
  (layer, op) one tensor at the largest shape it takes in the space, and the
  classifier over every layer's widest output; a child takes once-for-all
  slices of them: its filters' prefix, the centre of the largest kernel, and
  the block of each source it reads (nas_conv.py says how, and which ops it
  refuses: those whose weights are more than one convolution over the
  concatenated inputs and batch norms over its filters, such as `mbconv`).
  Every child of a space with a depth schedule has the same depth
  (`search_depth`): one super-network is trained, so the depth does not grow.

A child's tensor is a whole shared tensor or a `Slice` of one (keys.py): ENAS
micro's output conv and the NAS conv layers. The super-network's tensors are
taken from children that `build_child` builds with its usual initialisation,
chosen to cover every key (`_covering`); NAS conv tensors from each (layer,
op)'s module built by the same factory at its largest shape (`NasLayout`).
Weight decay and SGD momentum act on a whole shared tensor once it has a
gradient, as in once-for-all's training, also where this child did not read it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ...arch import Architecture, architecture
from ...arch.tokens import Assignment
from ...children import ChildConfig, build_child
from ...arch.wiring import uses_nas_wiring
from ...data.base import Task
from ...errors import ChildError, RunError
from ...space.compiler import CompiledSpace
from .keys import Key, Slice, op_key
from .nas_conv import SLICED, NasLayout

Family = str  # "macro" | "nas" | "micro" | "dense" | "dag" | "tree"
LANGUAGE_FAMILIES = ("dag", "tree")


# What --strategy enas applies to, with the bundled spaces of each kind (tests/test_refusals.py checks the names).
APPLIES_TO = ("ENAS shares weights in image conv networks wired as ENAS macro or NAS (enas_macro, conv, conv_strides, "
              "conv_pool), image cell spaces (ENAS micro, DARTS-like and dense NAS-Bench-201 cells: enas_micro, darts, "
              "nb201), and ENAS's recurrent cell and the NAS tree cell for text (enas_rnn, rnn, rnn_base2)")


def family_of(arch: Architecture) -> Family:
    """Which ENAS family an architecture belongs to; ChildError where weights cannot be shared."""
    if arch.task == "tabular":  # dense layers over table rows: no image to augment, no shared conv weights
        raise ChildError(f"--strategy enas does not apply to a tabular space (dense layers over table rows); "
                         f"{APPLIES_TO}; search it with --strategy reinforce or random", where=arch.space)
    if arch.layers and arch.cells is None:  # any registered op (plugins too), wired as ENAS macro or as NAS
        return "nas" if uses_nas_wiring(arch.layers) else "macro"
    if arch.cells:
        return "micro"
    if arch.dense:
        return "dense"
    if arch.dag:
        return "dag"
    if arch.tree:
        return "tree"
    raise ChildError(f"--strategy enas does not apply to this space; {APPLIES_TO}", where=arch.space)


def _covering(compiled: CompiledSpace, depth: int | None = None,
              largest: tuple[str, ...] = ()) -> Iterator[Assignment]:
    """Assignments whose children together use every shared key: each op (with each value of each
    op parameter, such as a plugin's kernel) at each place, on each input; the choices named in
    `largest` at their largest value (a NAS conv's slices come from the largest tensor)."""
    decisions = compiled.decisions(depth)
    staged = {d.path for d in decisions if compiled.blocks[d.block].kind == "stage"}  # a stage's depth, width
    ops = max((len(d.options) for d in decisions if d.kind == "choice" and d.condition is None
               and d.path not in staged), default=1)
    stages = max((len(d.options) for d in decisions if d.path in staged and d.kind == "choice"), default=1)
    inputs = max((len(d.candidates) for d in decisions if d.kind == "index"), default=1)
    nested: dict[str, int] = {}  # an op's own parameters: per name, the most values it takes
    for d in decisions:
        if d.kind == "choice" and d.condition is not None:
            nested[d.name] = max(nested.get(d.name, 1), len(d.options))
    for op, stage, src, *params in itertools.product(range(ops), range(stages), range(inputs),
                                                     *map(range, nested.values())):
        picks = dict(zip(nested, params))
        assignment: Assignment = {}
        for d in decisions:
            if d.kind == "choice" and d.name in largest:
                assignment[d.path] = max(o.value for o in d.options)
            elif d.path in staged:  # each op with each value of a stage's decisions (its depth moves reductions),
                # the deepest and widest first: the first covering child is the largest (NasLayout's wiring)
                assignment[d.path] = sorted((o.value for o in d.options), reverse=True)[stage % len(d.options)]
            elif d.kind == "choice":
                assignment[d.path] = d.options[picks.get(d.name, op) % len(d.options)].value
            elif d.kind == "anchor":  # every skip: every skip's batch norm and reduction exists
                assignment[d.path] = tuple(d.candidates)
            else:
                assignment[d.path] = d.candidates[min(src, len(d.candidates) - 1)]
        yield assignment


def _macro_key(parts: list[str], arch: Architecture, child: nn.Module) -> Key:
    if parts[0] == "layers" and parts[2] == "op":  # layers.i.op.* -> one module per (layer, op and its params)
        return f"layers:{parts[1]}:{op_key(arch.layers[int(parts[1])])}:" + ":".join(parts[3:]), None
    if parts[0] == "reductions":  # reductions.i.k.* -> per (point, earlier layer halved)
        layer = child._reduced[int(parts[1])][int(parts[2])]
        return f"reductions:{parts[1]}:from{layer}:" + ":".join(parts[3:]), None
    return ":".join(parts), None


def _micro_key(parts: list[str], tensor: Tensor, arch: Architecture, child: nn.Module) -> Key:
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
        loose = cell_module._loose
        width = tensor.shape[1] // len(loose)  # per state
        whole = (tensor.shape[0], width * _states(arch), *tensor.shape[2:])  # one block per state
        return f"cells:{c}:combine:1:weight", Slice((None, tuple((b * width, width) for b in loose)), whole)
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


def _largest_archs(compiled: CompiledSpace, depth: int | None) -> list[Architecture]:
    """A NAS conv space's largest children: every skip on, each `SLICED` choice at its largest, and
    each value of the other choices (an op, a pool's size) in one of them."""
    unique = {tuple(a.items()): a for a in _covering(compiled, depth, largest=SLICED)}
    return [architecture(compiled, a, depth) for a in unique.values()]


def search_depth(compiled: CompiledSpace, depth: int | None) -> int | None:
    """The one depth ENAS searches a space at: `depth`, or, for a space with a depth schedule, its first
    (NAS's starting depth; ENAS trains one super-network, so it does not grow); None without a schedule."""
    if not compiled.depths:
        if depth is not None:
            raise RunError(f"{compiled.name} has no depth schedule (`layers N from M grow ...`); leave --depth out",
                           where=compiled.name)
        return None
    if depth is None:
        return compiled.depths[0]
    if depth not in compiled.depths:
        raise RunError(f"depth {depth} is not one {compiled.name}'s schedule reaches "
                       f"({', '.join(map(str, compiled.depths))})", where=compiled.name)
    return depth


def space_family(compiled: CompiledSpace, depth: int | None = None, task: Task | None = None) -> Family:
    """The ENAS family of a space's children at `depth` (None: the deepest); ChildError (with the
    reason) where weights cannot be shared. Given the task, a NAS conv space's ops and the size of its
    largest tensors are checked too (`NasLayout.check`)."""
    family = family_of(architecture(compiled, next(_covering(compiled, depth)), depth))
    if family == "nas" and task is not None:
        _nas_layout(compiled, depth, task)
    return family


def _nas_layout(compiled: CompiledSpace, depth: int | None, task: Task) -> NasLayout:
    """A NAS conv space's largest tensors at `depth`; ChildError where an op cannot be sliced or they are too big."""
    layout = NasLayout(_largest_archs(compiled, depth), task.channels, task.classes)
    layout.check(compiled.name)
    return layout


class SharedWeights(nn.Module):
    """The super-network: `weights` and `stats` hold every child tensor under its shared key."""

    def __init__(self, compiled: CompiledSpace, task: Task, config: ChildConfig, depth: int | None = None):
        super().__init__()
        self.compiled, self.task, self.config, self.depth = compiled, task, config, depth
        self.family = space_family(compiled, depth)
        self.weights = nn.ParameterDict()
        self.stats = nn.Module()  # batch-norm running statistics, one buffer per key
        self.layout = None  # NAS conv: the largest tensors' layout, from which children take slices
        if self.family == "nas":
            self.layout = _nas_layout(compiled, depth, task)
        for key, tensor in self.layout.tensors() if self.layout else self._covered():
            if isinstance(tensor, nn.Parameter):
                self.weights[key] = nn.Parameter(tensor.detach().clone())
            else:
                self.stats.register_buffer(key, tensor.detach().clone())

    def _covered(self) -> Iterator[tuple[str, Tensor]]:
        """(key, tensor) of each key's first use in the covering children, grown whole where sliced."""
        for assignment in _covering(self.compiled, self.depth):
            arch = architecture(self.compiled, assignment, self.depth)
            child = build_child(arch, self.task, self.config)
            for name, tensor in _tensors(child):
                key, part = self.key(name, tensor, arch, child)
                if self._shared(key) is not None:
                    continue
                if part is not None:  # grown whole (one block per state), initialised as a conv of that fan-in
                    tensor = nn.Parameter(nn.init.kaiming_uniform_(tensor.new_empty(part.whole), a=5 ** 0.5))
                yield key, tensor

    def _shared(self, key: str) -> Tensor | None:
        return self.weights[key] if key in self.weights else self.stats._buffers.get(key)

    def key(self, name: str, tensor: Tensor, arch: Architecture, child: nn.Module) -> Key:
        """The shared key of a child tensor `name` (and the part of the shared tensor it is, if a part)."""
        parts = name.split(".")
        if self.family == "nas":
            key = self.layout.key(name, arch)
            full = self._shared(key)
            return key, None if full is None else self.layout.slice(name, tensor.shape, full.shape, child)
        if self.family == "macro":
            return _macro_key(parts, arch, child)
        if self.family == "micro":
            return _micro_key(parts, tensor, arch, child)
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
        for name, tensor in _tensors(child):
            key, part = self.key(name, tensor, arch, child)
            shared = self._shared(key)
            if shared is None:
                raise ChildError(f"no shared weight for {name} ({key}): an op parameter the covering children "
                                 "did not reach", where=arch.tokens)
            out[name] = shared if part is None else part.take(shared)
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
