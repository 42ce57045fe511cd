"""A built child -> one standalone, readable PyTorch file (`nascli export -o model.py`).

The generated file imports only torch (and the plugins of any plugin op it uses). Its classes mirror the built child's
module tree attribute by attribute (constructors from `pysource.module_expr`),
so `Child().load_state_dict(built.state_dict())` works as is; the forward
methods are written out from the architecture records, one line per layer or
node: every concatenation, zero-pad, skip sum, node combination and
activation is visible. The code is TorchScript-compatible, which is how
`model.pt` is made (see torchscript.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..arch.describe import layer_rows
from ..arch.records import Architecture, Cell
from ..arch.wiring import loose_ends, macro_pool_points, nas_wiring, uses_nas_wiring
from ..children.convnet import MacroConvNet
from ..children.dag_cell import DagCell
from ..children.dense import DenseCellBlock, DenseNet
from ..children.lm import LanguageModel
from ..children.micro import MicroNet
from ..children.mlp import MLP
from ..children.tree_cell import TreeCell
from ..data.base import ImageTask, TabularTask, Task
from ..errors import ChildError
from .pysource import call_expr, helper_sources, module_expr
from .recurrent import dag_cell_source, language_model_source, tree_cell_source


@dataclass(frozen=True)
class WeightsNote:
    """Where `nascli eval` puts (or put) this child's trained weights, for the file's docstring."""

    path: Path
    command: str  # the `nascli eval ...` that makes it

    @property
    def trained(self) -> bool:
        return self.path.is_file()


def _indent(lines: list[str], depth: int = 2) -> str:
    return "".join(("    " * depth + line if line else "") + "\n" for line in lines)


def _commented_list(name: str, items: list[tuple[str, nn.Module]], used: set[str]) -> str:
    """`self.name = nn.ModuleList([...])` with a comment line above each item."""
    body = "".join(f"            # {comment}\n            {module_expr(m, 12, used)},\n" for comment, m in items)
    return f"        self.{name} = nn.ModuleList([\n{body}        ])\n"


def _row(r) -> str:
    what = f"{r.op} {r.params}," if r.params else f"{r.op},"
    return f"layer {r.index}: {what} stride {r.stride} <- {r.reads}"


def _nas_child(arch: Architecture, model: nn.Module, task: ImageTask, used: set[str]) -> tuple[str, list[str]]:
    image = (task.channels, task.height, task.width)
    plan = nas_wiring(arch.layers, image)
    rows = [_row(r) for r in layer_rows(arch, image)]
    init = _commented_list("layers", list(zip(rows, model.layers)), used)
    if hasattr(model, "shortcuts"):
        init += f"        self.shortcuts = {module_expr(model.shortcuts, 8, used)}\n"
    init += f"        self.head = {module_expr(model.head, 8, used)}\n"
    lines = []
    for layer, shape in zip(arch.layers, plan):
        reads = [f"l{j}" if j >= 0 else "x" for j in shape.sources]
        reads = [r if pad is None else f"F.pad({r}, {list(pad)})" for r, pad in zip(reads, shape.pads)]
        value = reads[0] if len(reads) == 1 else f"torch.cat([{', '.join(reads)}], 1)"
        call = f"self.layers[{layer.index}]({value})"
        for k, cut in enumerate(shape.shortcuts):  # merge = sum: the skips added to the op's output
            skip = f"l{cut.source}" if cut.pad is None else f"F.pad(l{cut.source}, {list(cut.pad)})"
            call += f" + self.shortcuts[{layer.index}][{k}]({skip})" if cut.projects else f" + {skip}"
        c, h, w = shape.out_shape
        lines.append(f"l{layer.index} = {call}  # (B, {c}, {h}, {w})")
    ends = [f"l{j}" for j in loose_ends(arch.layers)]
    lines.append(f"return self.head([{', '.join(ends)}])  # loose ends -> classifier (rule 2)")
    return init, lines


def _macro_child(arch: Architecture, model: MacroConvNet, task: ImageTask, used: set[str]) -> tuple[str, list[str]]:
    rows = [f"layer {r.index}: {r.op}, skips: {', '.join(map(str, layer.inputs)) or 'none'}"
            for r, layer in zip(layer_rows(arch), arch.layers)]
    init = f"        self.stem = {module_expr(model.stem, 8, used)}\n"
    init += _commented_list("layers", list(zip(rows, model.layers)), used)
    init += f"        self.reductions = {module_expr(model.reductions, 8, used)}\n"
    init += f"        self.head = {module_expr(model.head, 8, used)}\n"
    layers, points = arch.layers, macro_pool_points(len(arch.layers))
    readers = [list(layer.inputs) + ([i - 1] if i else []) for i, layer in enumerate(layers)]
    lines, prev = ["prev = self.stem(x)"], "prev"
    for i, layer in enumerate(layers):
        op = f"self.layers[{i}].op({prev})"
        skips = "".join(f" + l{j}" for j in layer.inputs)
        lines.append(f"l{i} = self.layers[{i}].bn({op}{skips})" if layer.inputs else f"l{i} = {op}")
        prev = f"l{i}"
        if i in points:
            later = [j for j in range(i + 1) if any(j in r for r in readers[i + 1:])]
            if later:
                lines.append(f"# after layer {i}: halve every map read later")
            lines += [f"l{j} = self.reductions[{i}][{k}](l{j})" for k, j in enumerate(later)]
    lines.append(f"return self.head([{prev}])")
    return init, lines


def _class_name(cell: Cell) -> str:
    return "".join(part.capitalize() for part in re.split(r"[\W_]+", cell.name) if part) + "Cell"


def _cell_class(cell: Cell, instance: nn.Module) -> str:
    """A micro cell's class: its parts come in as arguments, its forward is the cell's node sums."""
    read = {src for node in cell.nodes for src in (node.left, node.right)}
    loose = [k for k in range(cell.inputs + len(cell.nodes)) if k not in read]
    lines = ["n0 = self.prep0(s0)", "n1 = self.prep1(s1)"]
    for pos, node in enumerate(cell.nodes):
        lines.append(f"n{node.index} = self.nodes[{pos}][0](n{node.left}) + self.nodes[{pos}][1](n{node.right})"
                     f"  # {node.left_op}(node {node.left}) + {node.right_op}(node {node.right})")
    ends = [f"n{k}" if isinstance(fit, nn.Identity) else f"self.fit[{pos}](n{k})"
            for pos, (k, fit) in enumerate(zip(loose, instance.fit))]
    value = ends[0] if len(ends) == 1 else f"torch.cat([{', '.join(ends)}], 1)"
    lines.append(f"return self.combine({value})  # loose ends -> 1x1 conv")
    stride = f", stride {cell.stride}" if cell.stride > 1 else ""
    return (f"\n\nclass {_class_name(cell)}(nn.Module):\n"
            f'    """The {cell.name} cell{stride}: nodes 0 and 1 are the two previous cells\' outputs."""\n\n'
            "    def __init__(self, prep0: nn.Module, prep1: nn.Module, nodes: nn.ModuleList, fit: nn.ModuleList,\n"
            "                 combine: nn.Module) -> None:\n"
            "        super().__init__()\n"
            "        self.prep0, self.prep1, self.nodes, self.fit, self.combine = prep0, prep1, nodes, fit, combine\n\n"
            "    def forward(self, s0: Tensor, s1: Tensor) -> Tensor:\n" + _indent(lines))


def _micro_child(arch: Architecture, model: MicroNet, used: set[str]) -> tuple[str, list[str], str]:
    """Child.__init__ body, forward lines, and the two cell classes, in MicroNet's layout."""
    records = model.layout
    classes = {r.name: _cell_class(r, cell) for r, cell in zip(records, model.cells)}
    items = []
    for pos, (record, cell) in enumerate(zip(records, model.cells)):
        parts = [f"{name}={module_expr(part, 16, used)}" for name, part in cell.named_children()]
        call = call_expr(_class_name(record), parts, 12)
        items.append(f"            # cell {pos}: {record.name}\n            {call},\n")
    init = f"        self.stem = {module_expr(model.stem, 8, used)}\n"
    init += "        self.cells = nn.ModuleList([\n" + "".join(items) + "        ])\n"
    init += f"        self.head = {module_expr(model.head, 8, used)}\n"
    lines = ["s0 = s1 = self.stem(x)", "for cell in self.cells:", "    s0, s1 = s1, cell(s0, s1)",
             "return self.head([F.relu(s1)])"]
    return init, lines, "".join(classes.values())


def _dense_child(arch: Architecture, model: DenseNet, used: set[str]) -> tuple[str, list[str]]:
    """A dense-cell network: each cell a DenseCellBlock (its class copied in) over its edge ops."""
    used.add(f"class:{DenseCellBlock.__module__}:{DenseCellBlock.__qualname__}")
    items = []
    for pos, cell in enumerate(model.cells):
        if isinstance(cell, DenseCellBlock):
            edges = module_expr(cell.edges, 16, used)
            call = call_expr("DenseCellBlock", [edges, repr(cell.sources), repr(cell.targets), str(cell.nodes)], 12)
        else:
            call = module_expr(cell, 12, used)
        items.append(f"            # cell {pos}\n            {call},\n")
    init = f"        self.stem = {module_expr(model.stem, 8, used)}\n"
    init += "        self.cells = nn.ModuleList([\n" + "".join(items) + "        ])\n"
    init += f"        self.last = {module_expr(model.last, 8, used)}\n"
    init += f"        self.head = {module_expr(model.head, 8, used)}\n"
    edges = ", ".join(f"{e.source}->{e.target}: {e.op}" for e in arch.dense.edges)
    lines = [f"# every cell: {edges}", "x = self.stem(x)", "for cell in self.cells:", "    x = cell(x)",
             "return self.head([self.last(x)])"]
    return init, lines


def _image_child(arch: Architecture, model: nn.Module, task: ImageTask, used: set[str]) -> str:
    extra = ""
    if arch.dense is not None:
        init, lines = _dense_child(arch, model, used)
    elif arch.layers is not None and arch.cells is None:
        build = _nas_child if uses_nas_wiring(arch.layers) else _macro_child
        init, lines = build(arch, model, task, used)
    else:
        init, lines, extra = _micro_child(arch, model, used)
    shape = f"(B, {task.channels}, {task.height}, {task.width}) -> (B, {task.classes})"
    return (extra + "\n\nclass Child(nn.Module):\n"
            f'    """{arch.space} child: images {shape} logits."""\n\n'
            "    def __init__(self) -> None:\n        super().__init__()\n" + init +
            f"\n    def forward(self, x: Tensor) -> Tensor:  # {shape}\n" + _indent(lines))


def _tabular_child(arch: Architecture, model: MLP, task: TabularTask, used: set[str]) -> str:
    """Child for table rows: one line per dense layer, its concatenated inputs written out."""
    rows = []
    for layer, sources in zip(arch.layers, model.sources):
        p = layer.params
        reads = ", ".join("features" if j < 0 else f"layer {j}" for j in sources)
        rows.append(f"layer {layer.index}: dense {p['units']} units, {p.get('activation', 'relu')}, "
                    f"dropout {p.get('dropout', 0)} <- {reads}")
    init = _commented_list("layers", list(zip(rows, model.layers)), used)
    init += f"        self.head = {module_expr(model.head, 8, used)}\n"
    def concat(reads: list[str]) -> str:
        return reads[0] if len(reads) == 1 else f"torch.cat([{', '.join(reads)}], 1)"

    lines = []
    for i, sources in enumerate(model.sources):
        value = concat([f"l{j}" if j >= 0 else "x" for j in sources])
        lines.append(f"l{i} = self.layers[{i}]({value})  # (B, {model.layers[i][0].out_features})")
    lines.append(f"return self.head({concat([f'l{j}' for j in model.ends])})  # loose ends -> classifier")
    shape = f"(B, {task.features}) -> (B, {task.classes})"
    return ("\n\nclass Child(nn.Module):\n"
            f'    """{arch.space} child: table rows {shape} logits."""\n\n'
            "    def __init__(self) -> None:\n        super().__init__()\n" + init +
            f"\n    def forward(self, x: Tensor) -> Tensor:  # {shape}\n" + _indent(lines))


def docstring_text(text: str) -> str:
    """`text` made safe inside a triple-quoted docstring: no quote, backslash or control
    character from a file or folder name can end the string or change what it says."""
    def escape(ch: str) -> str:
        if ch in '\\"':
            return "\\" + ch
        if ch != "\n" and unicodedata.category(ch).startswith("C"):  # controls, surrogates, unassigned
            return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        return ch

    return "".join(map(escape, text))


def _header(arch: Architecture, task: Task, weights: WeightsNote, plugins: list[str]) -> str:
    if isinstance(task, ImageTask):
        what = f"images ({task.channels}, {task.height}, {task.width}), {task.classes} classes"
    elif isinstance(task, TabularTask):
        what = f"table rows of {task.features} encoded features, {task.classes} classes"
    else:
        what = f"a vocabulary of {task.vocab_size} words"
    if weights.trained:
        where = f"Trained weights (`nascli eval`) are in {weights.path}:"
    else:
        where = (f"No trained weights yet: `{weights.command}` trains this child and saves them to\n"
                 f"{weights.path}; then:")
    # Paths and commands name files and folders chosen by whoever made them: escaped, never code.
    needs = "needs only torch" if not plugins else (
        f"needs torch and the plugin module{'s' if len(plugins) > 1 else ''} {', '.join(plugins)}, "
        "which must be importable (on PYTHONPATH)")
    text = (f"A child network found by nascli, as PyTorch ({needs}).\n\n"
            f"Architecture ({arch.space}, for {what}):\n    {arch.tokens}\n\n{where}\n\n"
            "    model = Child()\n"
            f"    model.load_state_dict(torch.load({str(weights.path)!r}))\n"
            "    model.eval()\n")
    return f'"""{docstring_text(text)}"""\n\n'


def module_source(arch: Architecture, model: nn.Module, task: Task, weights: WeightsNote) -> str:
    """The source of a module file defining `Child`, equal to `model` (built from `arch` for `task`)."""
    used: set[str] = set()
    if isinstance(task, ImageTask) and (arch.layers is not None or arch.cells is not None or arch.dense is not None):
        body = _image_child(arch, model, task, used)
    elif isinstance(model, MLP):
        body = _tabular_child(arch, model, task, used)
    elif isinstance(model, LanguageModel) and isinstance(model.cell, TreeCell):
        body = tree_cell_source(arch.tree, model.cell) + language_model_source(model, model.cell, used)
    elif isinstance(model, LanguageModel) and isinstance(model.cell, DagCell):
        body = dag_cell_source(arch.dag, model.cell) + language_model_source(model, model.cell, used)
    else:
        raise ChildError(f"cannot export a {type(model).__name__} child", where=arch.tokens)
    imports, helpers = helper_sources(used)
    code = helpers + body
    functional = "import torch.nn.functional as F\n" if "F." in code else ""
    plugins = sorted(key[len("import:"):] for key in used if key.startswith("import:"))
    return (_header(arch, task, weights, plugins) + "import torch\n" + functional + "from torch import Tensor, nn\n"
            + imports + code)
