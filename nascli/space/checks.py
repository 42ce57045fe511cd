"""Semantic checks of a SearchSpace against the vocabulary (vocab.py) and the op registry.

A layer's decisions are checked against what its ops declare: each op must
find the parameters it reads (or have a default), each value must be one the
op allows, and a decision that no op of the layer reads is an error, since it
would only inflate the count and teach the controller a dead choice.

Each failure goes through `fail(message, pos)`, which raises a positioned
SpaceSemanticError; transform.py supplies it so that messages quote the source.
"""

from __future__ import annotations

from typing import Callable

from ..ops import OPS, ops_for
from ..plugins import loaded_plugins, plugin_names
from . import vocab
from .conditions import missing_tie_targets, op_reads
from .hints import unknown_op_hint
from .ir import Block, ChoiceDecl, FixedDecl, Pos, SearchSpace, SkipOffsets, Value

Fail = Callable[[str, Pos], None]

_BLOCK_TASK = {"layers": "image", "cell": "image", "dense": "image", "tree": "language", "dag": "language"}


def _check_value(name: str, value: Value, domain: str, pos: Pos, fail: Fail, block: str = "layer") -> None:
    if domain == "posint":
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"'{name}' takes positive integers, got '{value}'", pos)
        elif value <= 0:
            fail(f"'{name}' must be positive, got {value}", pos)
    elif domain in ("posnum", "nonneg"):
        if not isinstance(value, (int, float)):
            fail(f"'{name}' takes numbers, got '{value}'", pos)
        elif value < 0 or (domain == "posnum" and value == 0):
            fail(f"'{name}' must be {'positive' if domain == 'posnum' else 'at least 0'}, got {value}", pos)
    elif domain == "op" and value in OPS and value not in ops_for(block):
        fail(f"unknown op '{value}' for '{name}': it can be used in a {' or '.join(OPS.get(str(value)).blocks)} "
             f"only, not in a {block}", pos)
    elif domain == "op" and value not in ops_for(block):
        known = ops_for(block)
        fail(f"unknown op '{value}' for '{name}' (known: {', '.join(known)}){unknown_op_hint(str(value), known)}", pos)
    elif domain in vocab.DOMAIN_VALUES and value not in vocab.DOMAIN_VALUES[domain]:
        fail(f"unknown {domain} '{value}' for '{name}'; expected one of: {', '.join(vocab.DOMAIN_VALUES[domain])}", pos)


def _check_decisions(decls: list, slots: dict[str, vocab.Slot], where: str, fail: Fail, branching: bool = False,
                     block: str = "layer") -> None:
    for decl in decls:
        slot = slots.get(decl.name)
        if slot is None:
            fail(f"unknown decision '{decl.name}' in {where}; expected one of: {', '.join(slots)}", decl.pos)
        kind = "choice" if decl.kind == "fixed" else decl.kind
        if isinstance(decl, FixedDecl) and (slot.kind == "anchor" or isinstance(decl.value, SkipOffsets)):
            _check_fixed_skip(decl, slot, where, fail)
            continue
        if kind != slot.kind:
            shape = {"choice": "a choice list or value", "anchor": "'anchor'", "index": "'index'"}[slot.kind]
            fail(f"'{decl.name}' in {where} must be {shape}, not {decl.kind}", decl.pos)
        if isinstance(decl, FixedDecl) and decl.tied:
            _check_tie(decl, slots, decls, where, fail)
        elif isinstance(decl, FixedDecl):
            _check_value(decl.name, decl.value, slot.domain, decl.pos, fail, block)
        if isinstance(decl, ChoiceDecl):
            for opt in decl.options:
                _check_value(decl.name, opt.value, slot.domain, opt.pos or decl.pos, fail, block)
            if decl.branches and not branching:
                fail(f"'{decl.name}' in {where} cannot have branches; only a layer's 'op' can", decl.pos)
            for branch in decl.branches.values():
                _check_decisions(branch, slots, where, fail)


def _check_fixed_skip(decl: FixedDecl, slot: vocab.Slot, where: str, fail: Fail) -> None:
    """`skip = previous | none | all | {offsets}`; a fixed set is a skip's alone (`name: {...}` is a choice)."""
    if slot.kind != "anchor":
        fail(f"'{decl.name} = {{...}}' is a fixed skip set, which only 'skip' takes; "
             f"a choice list is written '{decl.name}: {{...}}'", decl.pos)
    if not isinstance(decl.value, SkipOffsets) and decl.value not in vocab.FIXED_SKIPS:
        fail(f"'{decl.name}' in {where} must be 'anchor' or fixed: {', '.join(vocab.FIXED_SKIPS)}, "
             f"or a set of offsets back like {{1, 3}}; got '{decl.value}'", decl.pos)


def _check_tie(decl: FixedDecl, slots: dict[str, vocab.Slot], decls: list, where: str, fail: Fail) -> None:
    """`a = b` ties a to b: both choices over the same domain."""
    target = slots.get(str(decl.value))
    if target is None or target.kind != "choice" or target.domain != slots[decl.name].domain:
        fail(f"'{decl.name}' in {where} cannot take the value of '{decl.value}' (a different kind of decision)", decl.pos)


def _require(decls: list, names: tuple[str, ...], where: str, pos: Pos, fail: Fail) -> None:
    have = {d.name for d in decls}
    for name in names:
        if name not in have:
            fail(f"{where} needs a '{name}' decision", pos)


def _layer_slots() -> dict[str, vocab.Slot]:
    """A layer's own decisions, then every parameter a registered layer op reads."""
    slots = dict(vocab.LAYER_SLOTS)
    for name in ops_for("layer"):
        for param in OPS.get(name).params:
            slots.setdefault(param.name, vocab.Slot("choice", param.domain))
    return slots


def _values(decl) -> list[tuple[Value, Pos]]:
    if isinstance(decl, FixedDecl) and decl.tied:
        return []  # checked where the decision it takes its value from is declared
    if isinstance(decl, FixedDecl):
        return [(decl.value, decl.pos)]
    return [(o.value, o.pos or decl.pos) for o in getattr(decl, "options", [])]


def _stage_decisions(block) -> list:
    """A layers block's stage-section decisions that every layer takes (all but `depth`)."""
    return [d for d in (block.stage.decisions if block.stage else []) if d.name not in vocab.STAGE_ONLY]


def _layer_cases(block) -> tuple[object, list[tuple[str, list]]]:
    """The layer's `op` decision (or None), and per op it can take: the decisions it then has."""
    outer = [d for d in block.decisions + _stage_decisions(block) if d.name not in vocab.LAYER_SLOTS]
    op = next((d for d in block.decisions if d.name == "op"), None)
    if op is None:
        return None, [("conv", outer)]  # a layer without `op` is a NAS conv
    if isinstance(op, FixedDecl):
        return op, [(str(op.value), outer)]
    return op, [(str(o.value), outer + op.branches.get(str(o.value), [])) for o in op.options]


def _check_layer_ops(block, fail: Fail) -> None:
    """Every op a layer can take finds the parameters it reads; every decision is read by some op."""
    op, cases = _layer_cases(block)
    for name, decls in cases:
        spec, have = OPS.get(name), {d.name: d for d in decls}
        for param in spec.params:
            decl = have.get(param.name)
            if decl is None and param.default is None:
                fail(f"layers with op '{name}' need a '{param.name}' decision", (op or block).pos)
            for value, pos in _values(decl) if decl is not None and param.values else []:
                if value not in param.values:
                    allowed = ", ".join(map(str, param.values))
                    fail(f"op '{name}' takes {param.name} in {{{allowed}}}, got {value}", pos)
    reads = {name: op_reads(name) for name, _ in cases}
    for decl in (d for d in block.decisions if d.name not in vocab.LAYER_SLOTS):
        if not any(decl.name in r for r in reads.values()):
            fail(f"'{decl.name}' is read by no op this layer can take ({', '.join(reads)}); remove it", decl.pos)
    for value, branch in getattr(op, "branches", {}).items():
        for decl in branch:
            if decl.name not in reads[value]:
                fail(f"'{decl.name}' is not read by op '{value}'; remove it", decl.pos)
    for tie, value in missing_tie_targets(block.decisions):
        fail(f"'{tie.name}' takes the value of '{tie.value}', which op '{value}' does not read (it exists only "
             "under the ops that read it)", tie.pos)


def _check_stage(block, fail: Fail) -> None:
    """A stage section's decisions: its depth within the block's layers, and settings every op of its layers
    reads (made once for the stage, a decision some layers' ops would ignore could not be conditional)."""
    slots = vocab.STAGE_ONLY | {k: v for k, v in _layer_slots().items() if k not in ("op", "skip")}
    _check_decisions(block.stage.decisions, slots, "a stage section", fail)
    if block.schedule is not None:
        fail("a stage's depth and a depth schedule do not mix; give the stage a 'depth' or the block a schedule",
             block.stage.pos)
    depth = next((d for d in block.stage.decisions if d.name == "depth"), None)
    for value, pos in _values(depth) if depth is not None else []:
        if isinstance(value, int) and value > block.max_layers:
            fail(f"a stage's depth is at most its block's {block.max_layers} layers, got {value}", pos)
    op, cases = _layer_cases(block)
    for decl in _stage_decisions(block):
        ignoring = [name for name, _ in cases if decl.name not in op_reads(name) and decl.name != "merge"]
        if ignoring:
            fail(f"'{decl.name}' in the stage section is not read by op {', '.join(map(repr, ignoring))}; a "
                 "decision made once for the stage must be read by every op its layers can take (decide it per "
                 "layer instead)", decl.pos)


def _check_layer_stem(space: SearchSpace, fail: Fail) -> None:
    """Layers before cells are the cells' stem: a plain chain (`skip = previous`) whose last layer feeds them."""
    first_cell = next(i for i, b in enumerate(space.blocks) if b.kind == "cell")
    for i, block in enumerate(space.blocks):
        if block.kind != "layers":
            continue
        if i > first_cell:
            fail("layers after the cells: a layer stem comes before the 'cell' blocks", block.pos)
        skip = next((d for d in block.decisions if d.name == "skip"), None)
        if not isinstance(skip, FixedDecl) or skip.value != "previous":
            fail("layers before cells are their stem: a plain chain, 'skip = previous'", (skip or block).pos)
        merge = next((d for d in block.decisions + _stage_decisions(block) if d.name == "merge"), None)
        if merge is not None and not (isinstance(merge, FixedDecl) and merge.value == "concat"):
            fail("layers before cells are their stem, a plain chain: they take no 'merge = sum'", merge.pos)


def _check_layer_task(block, task: str, fail: Fail) -> None:
    """Every op the layers can take is one for the space's task (dense layers for tables, the rest for images)."""
    op, cases = _layer_cases(block)
    merge = next((d for d in block.decisions + _stage_decisions(block) if d.name == "merge"), None)
    if task == "tabular" and merge is not None:
        fail("'merge' applies to image layers; a table's dense layer concatenates what it reads", merge.pos)
    for name, _ in cases:
        if task not in OPS.get(name).tasks:
            fits = ", ".join(n for n in ops_for("layer") if task in OPS.get(n).tasks)
            fail(f"op '{name}' does not fit a task = {task} space; its layers take: {fits}", (op or block).pos)


def _check_cells(cells: list, fail: Fail) -> None:
    """What the micro network builds: cells reading the two previous cells, one normal and one reduction."""
    for cell in cells:
        if cell.inputs != 2:
            fail(f"a cell reads the two previous cells' outputs: 'inputs 2', not {cell.inputs}", cell.pos)
        if cell.stride not in (1, 2):
            fail(f"a cell has stride 1 (normal) or 2 (reduction), not {cell.stride}", cell.pos)
    if sorted(cell.stride for cell in cells) != [1, 2]:
        fail("a cell network needs exactly one normal cell (stride 1) and one reduction cell (stride 2)", cells[0].pos)


def _check_block(block: Block, fail: Fail) -> None:
    if block.kind == "hyper":
        _check_decisions(block.decisions, vocab.HYPER_SLOTS, "hyper", fail)
    elif block.kind == "layers":
        _check_decisions(block.decisions, _layer_slots(), "layers", fail, branching=True)
        _check_layer_ops(block, fail)
        if block.stage is not None:
            _check_stage(block, fail)
    elif block.kind == "tree":
        _check_decisions(block.decisions, vocab.NODE_SLOTS, "tree nodes", fail)
        _require(block.decisions, vocab.REQUIRED["tree"], "a tree", block.pos, fail)
        names = {s.name for s in block.sections}
        for sec in block.sections:
            slots = vocab.TREE_SECTIONS.get(sec.name)
            if slots is None:
                fail(f"unknown section '{sec.name}' in tree; expected one of: {', '.join(vocab.TREE_SECTIONS)}", sec.pos)
            _check_decisions(sec.decisions, slots, f"section '{sec.name}'", fail)
            _require(sec.decisions, tuple(slots), f"section '{sec.name}'", sec.pos, fail)
        if len(names) == 1:
            missing = ({"inject", "cell_index"} - names).pop()
            fail(f"a tree with a memory cell needs both 'inject' and 'cell_index' sections; '{missing}' is missing", block.pos)
    else:
        slots = {"dag": vocab.DAG_SLOTS, "cell": vocab.CELL_SLOTS, "dense": vocab.DENSE_SLOTS}[block.kind]
        _check_decisions(block.decisions, slots, f"a {block.kind}", fail, block="cell")
        _require(block.decisions, vocab.REQUIRED[block.kind], f"a {block.kind}", block.pos, fail)


def _check_requires(space: SearchSpace, fail: Fail) -> None:
    loaded = loaded_plugins()
    for plugin in space.requires:
        if plugin.value not in loaded:
            fail(f"this space requires the plugin '{plugin.value}', which is not loaded; "
                 f"load it with `nascli --plugin {plugin.value}` (a module or .py path) or NASCLI_PLUGINS",
                 plugin.pos)


# Decisions whose values are ops, in any block
_OP_DECISIONS = {n for slots in (vocab.LAYER_SLOTS, vocab.CELL_SLOTS, vocab.DENSE_SLOTS)
                 for n, slot in slots.items() if slot.domain == "op"}


def _check_plugin_ops_required(space: SearchSpace, fail: Fail) -> None:
    """A plugin's op is usable only in a space that `requires` the plugin: the file then says what it needs."""
    required = {str(r.value) for r in space.requires}

    def visit(decls: list) -> None:
        for decl in decls:
            for value, pos in _values(decl) if decl.name in _OP_DECISIONS else []:
                plugin = OPS.get(str(value)).plugin if str(value) in OPS else None
                if plugin is not None and not required & plugin_names(plugin):
                    fail(f"op '{value}' comes from the plugin '{plugin}'; say 'requires "
                         f"{plugin.rpartition('.')[2]}' in the space so that it is loaded wherever the space is used",
                         pos)
            for branch in getattr(decl, "branches", {}).values():
                visit(branch)

    for block in space.blocks:
        visit(block.decisions)


def space_task(space: SearchSpace) -> str | None:
    """`image` or `language`: what a checked space's children read (None for a space of hyper only)."""
    blocks = (_BLOCK_TASK[b.kind] for b in space.blocks if b.kind in _BLOCK_TASK)
    return space.settings.get("task") or next(blocks, None)


def check_space(space: SearchSpace, setting_pos: dict[str, Pos], fail: Fail) -> None:
    _check_requires(space, fail)
    _check_plugin_ops_required(space, fail)
    for key, value in space.settings.items():
        pos = setting_pos[key]
        if key == "task" and value not in vocab.TASKS:
            fail(f"unknown task '{value}'; expected one of: {', '.join(vocab.TASKS)}", pos)
        if key in ("epochs", "budget", "batch"):
            _check_value(key, value, "posint", pos, fail)
    if not space.blocks:
        fail("the space declares no blocks; expected layers, tree, dag or cell", Pos(line=1, column=1))
    seen: dict[str, Block] = {}
    for block in space.blocks:
        key = f"cell {block.name}" if block.kind == "cell" else block.kind
        if block.kind == "layers" and "layers" in seen and (block.schedule or seen["layers"].schedule):
            fail("a depth schedule ('from ... grow ...') needs a space with one layers block", block.pos)
        if key in seen and key != "layers":  # several layers blocks are stages, one after another
            fail(f"duplicate {key} block", block.pos)
        seen[key] = block
        _check_block(block, fail)
    tasks = {_BLOCK_TASK[b.kind]: b for b in space.blocks if b.kind in _BLOCK_TASK}
    if len(tasks) > 1:
        fail("a space mixes image blocks (layers, cell) with language blocks (tree, dag)", tasks["language"].pos)
    cells = [b for b in space.blocks if b.kind == "cell"]
    if cells:
        _check_cells(cells, fail)
    layers = next((b for b in space.blocks if b.kind == "layers"), None)
    if cells and layers is not None:
        _check_layer_stem(space, fail)
    if space.network is not None and not cells:
        fail("a network declaration stacks cells; this space has no 'cell' blocks", space.network.pos)
    dense = [b for b in space.blocks if b.kind == "dense"]
    if dense and (len(dense) > 1 or cells or layers is not None):
        fail("a dense cell makes the whole network: one 'dense' block, without 'layers' or 'cell' blocks",
             dense[-1].pos)
    declared = space.settings.get("task")
    tabular = declared == "tabular" and layers is not None and not cells  # a layers block of dense layers
    if declared and tasks and declared not in tasks and not tabular:
        fail(f"task '{declared}' does not fit the space's {next(iter(tasks.values())).kind} block", setting_pos["task"])
    for block in (b for b in space.blocks if b.kind == "layers"):  # every stage
        _check_layer_task(block, "tabular" if tabular else "image", fail)
