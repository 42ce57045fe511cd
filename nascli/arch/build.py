"""Assignment -> Architecture records; token string -> Architecture; arch.json I/O."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from ..errors import ArchitectureError, NasError
from ..space import load_space
from ..space.compiler import CompiledSpace, compile_space
from ..space.ir import ChoiceDecl, FixedDecl, SkipOffsets, Value
from ..ops import OPS
from .records import (Architecture, Cell, CellIndex, CellStack, CellNode, DagNode, DenseCell, DenseEdge, Inject, Layer,
                      TreeCell, TreeNode)
from .tokens import Assignment, active_decisions, decode_tokens, encode, space_name

_TASK = {"layers": "image", "cell": "image", "dense": "image", "tree": "language", "dag": "language"}


def _group_values(compiled: CompiledSpace, b: int, decisions, assignment: Assignment) -> dict[str, Value]:
    """A group's values by decision name: its fixed values, then what was chosen."""
    plan = compiled.blocks[b]
    values: dict[str, Value] = {d.name: d.value for d in plan.decls if isinstance(d, FixedDecl)}
    for d in decisions:
        values[d.name] = assignment[d.path]
    # only a choice has branches (isinstance, not getattr: a missing pydantic attribute is slow to miss)
    taken = [sub for decl in plan.decls if isinstance(decl, ChoiceDecl)
             for sub in decl.branches.get(str(values.get(decl.name)), [])]
    for sub in taken:  # fixed values under the branch taken
        if isinstance(sub, FixedDecl):
            values[sub.name] = sub.value
    for decl in plan.decls + taken:  # `a = b`: a takes b's value
        if isinstance(decl, FixedDecl) and decl.tied:
            values[decl.name] = values[str(decl.value)]
    return values


def _skip_inputs(skip, index: int, start: int) -> list[int]:
    """The layers a layer reads, by its `skip`: an anchor's picks (stage-local) or one of the fixed forms."""
    if skip == "previous":  # a plain chain: layer i reads layer i - 1 (layer 0 the image)
        return [index - 1] if index else []
    if skip == "all":  # every earlier layer of the stage
        return list(range(start, index))
    if isinstance(skip, SkipOffsets):  # offsets reaching before the stage's first layer are dropped
        return sorted(index - k for k in skip.offsets if index - k >= start)
    return [start + j for j in (() if skip == "none" else skip)]


def _with_stage(stage: dict[str, Value], values: dict[str, Value], position: int) -> dict[str, Value]:
    """A layer's values with its stage's: every layer takes them, but the stage's stride only its first
    layer (as a stage's stride in timm's and MobileNet's stage lists), and its depth none."""
    taken = {k: v for k, v in stage.items() if k != "depth" and not (k == "stride" and position > 0)}
    return taken | values


def _layer(index: int, v: dict, start: int) -> Layer:
    """Layer `index` of a stage whose first layer is `start`; its anchors number the stage's layers from 0."""
    op = str(v.get("op", "conv"))
    params = OPS.get(op).layer_params(v)  # what the op reads, and the layer's stride, width and merge
    inputs = _skip_inputs(v.get("skip", ()), index, start)
    # In a later stage, a layer reading nothing of its stage reads the stage before's last layer; a summing
    # layer's op reads the layer before anyway, and its inputs are what is added to it.
    if not inputs and start and params.get("merge") != "sum":
        inputs = [start - 1]
    return Layer(index=index, op=op, params=params, inputs=inputs)


def architecture(compiled: CompiledSpace, assignment: Assignment, depth: int | None = None) -> Architecture:
    """Records for one assignment (the controller's output or a decoded string)."""
    space = compiled.space
    fields: dict = {}
    per_block = active_decisions(compiled, assignment, depth)
    stage: dict[str, Value] = {}  # the stage section's values, for the layers block after it
    for b, (plan, groups) in enumerate(zip(compiled.blocks, per_block)):
        values = [_group_values(compiled, b, g, assignment) for g in groups]
        block = space.blocks[plan.ir_block]
        if plan.label == "hyper":
            fields["hyper"] = values[0]
        elif plan.kind == "stage":
            stage = values[0]
        elif plan.kind == "layers":
            start = len(fields.setdefault("layers", []))
            fields["layers"] += [_layer(start + i, _with_stage(stage, v, i), start) for i, v in enumerate(values)]
            stage = {}
        elif plan.label == "tree":
            kids = block.children()
            fields["tree"] = {"base": block.base, "nodes": [
                TreeNode(index=i, combine=v["combine"], activation=v["activation"], children=kids[i])
                for i, v in enumerate(values)]}
        elif plan.label == "inject":
            fields["tree"]["inject"] = Inject(**values[0])
        elif plan.label == "cell_index":
            fields["tree"]["cell_index"] = CellIndex(**values[0])
        elif plan.kind == "dense":
            edges = [DenseEdge(source=i, target=j, op=str(v["op"])) for (i, j), v in zip(block.edges(), values)]
            fields["dense"] = DenseCell(name=block.name, nodes=block.nodes, stages=block.stages, repeat=block.repeat,
                                        width=block.width, edges=edges)
        elif plan.kind == "dag":
            fields["dag"] = [DagNode(index=i, prev=v.get("prev"), activation=v["activation"]) for i, v in enumerate(values)]
        else:
            nodes = [CellNode(index=plan.node_offset + i, **v) for i, v in enumerate(values)]
            fields.setdefault("cells", []).append(Cell(name=block.name, inputs=block.inputs, stride=block.stride, nodes=nodes))
    if space.network is not None:
        fields["cell_stack"] = CellStack(**space.network.model_dump())
    if "tree" in fields:
        fields["tree"] = TreeCell(**fields["tree"])
    # `task = tabular` makes a layers block a stack of dense layers; otherwise the block kind says
    task = "tabular" if space.settings.get("task") == "tabular" else next(_TASK[b.kind] for b in space.blocks if b.kind in _TASK)
    return Architecture(space=space.name, space_hash=space.sha256, tokens=encode(compiled, assignment, depth),
                        task=task, **fields)


def decode(text: str, space: str | Path | CompiledSpace | None = None) -> Architecture:
    """Token string -> Architecture. The space is the one the string names unless given."""
    if not isinstance(space, CompiledSpace):
        space = compile_space(load_space(space if space is not None else space_name(text)))
    assignment, depth = decode_tokens(space, text.strip())
    return architecture(space, assignment, depth)


def save_architecture(arch: Architecture, path: str | Path) -> None:
    try:
        Path(path).write_text(arch.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise ArchitectureError(f"cannot write: {err.strerror or err}", where=str(path)) from None


def _records(arch: Architecture, schema: int, exclude: set[str]) -> dict:
    """`arch`'s records as an arch.json of `schema` holds them: schema 1 kept only the parameters a
    layer's op declares (not the stride, width or merge it honours as layer settings)."""
    records = arch.model_dump(exclude=exclude)
    if schema == 1:
        for layer in records.get("layers") or []:
            declared = {p.name for p in OPS.get(layer["op"]).params}
            layer["params"] = {k: v for k, v in layer["params"].items() if k in declared}
    return records


def load_architecture(path: str | Path, space: str | Path | None = None, force: bool = False) -> Architecture:
    """Read and verify an arch.json: its records must be what its token string says.

    An arch.json made from another version of its space file (another sha256) is
    refused unless `force`: the same tokens may mean another network there.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        arch = Architecture.model_validate(raw)
    except FileNotFoundError:
        raise ArchitectureError("no such file", where=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArchitectureError(f"not a JSON file: {err}", where=str(path)) from None
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(map(str, first["loc"])) or "top level"
        raise ArchitectureError(f"not an arch.json: {loc}: {first['msg']}", where=str(path)) from None
    try:
        again = decode(arch.tokens, space if space is not None else arch.space)
    except NasError as err:
        raise ArchitectureError(f"its token string does not decode: {err}", where=str(path)) from None
    derived = {"space_hash", "cell_stack", "schema_version"}  # from the space file (older files lack cell_stack)
    if _records(again, arch.schema_version, derived) != arch.model_dump(exclude=derived):
        raise ArchitectureError("its layers/nodes do not match its token string; it was edited by hand?", where=str(path))
    if again.space_hash != arch.space_hash and not force:
        raise ArchitectureError(
            f"it was made from another version of space '{arch.space}' (sha256 {arch.space_hash[:12]}…, "
            f"the space file now has {again.space_hash[:12]}…); use --force to take it anyway", where=str(path))
    # the records as this version builds them (a schema-1 file's settings filled in), with the file's hash
    return again if again.space_hash == arch.space_hash else again.model_copy(update={"space_hash": arch.space_hash})
