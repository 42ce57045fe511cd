"""Semantic checks of a SearchSpace against the vocabulary (vocab.py).

Each failure goes through `fail(message, pos)`, which raises a positioned
SpaceSemanticError; transform.py supplies it so that messages quote the source.
"""

from __future__ import annotations

from typing import Callable

from . import vocab
from .ir import Block, ChoiceDecl, FixedDecl, Pos, SearchSpace, Value

Fail = Callable[[str, Pos], None]

_BLOCK_TASK = {"layers": "image", "cell": "image", "tree": "language", "dag": "language"}


def _check_value(name: str, value: Value, domain: str, pos: Pos, fail: Fail) -> None:
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
    elif domain in vocab.DOMAIN_VALUES and value not in vocab.DOMAIN_VALUES[domain]:
        what = "op" if domain.endswith("op") else domain
        allowed = ", ".join(vocab.DOMAIN_VALUES[domain])
        fail(f"unknown {what} '{value}' for '{name}'; expected one of: {allowed}", pos)


def _check_decisions(decls: list, slots: dict[str, vocab.Slot], where: str, fail: Fail, branching: bool = False) -> None:
    for decl in decls:
        slot = slots.get(decl.name)
        if slot is None:
            fail(f"unknown decision '{decl.name}' in {where}; expected one of: {', '.join(slots)}", decl.pos)
        kind = "choice" if decl.kind == "fixed" else decl.kind
        if kind != slot.kind:
            shape = {"choice": "a choice list or value", "anchor": "'anchor'", "index": "'index'"}[slot.kind]
            fail(f"'{decl.name}' in {where} must be {shape}, not {decl.kind}", decl.pos)
        if isinstance(decl, FixedDecl):
            _check_value(decl.name, decl.value, slot.domain, decl.pos, fail)
        if isinstance(decl, ChoiceDecl):
            for opt in decl.options:
                _check_value(decl.name, opt.value, slot.domain, opt.pos or decl.pos, fail)
            if decl.branches and not branching:
                fail(f"'{decl.name}' in {where} cannot have branches; only a layer's 'op' can", decl.pos)
            for branch in decl.branches.values():
                _check_decisions(branch, slots, where, fail)


def _require(decls: list, names: tuple[str, ...], where: str, pos: Pos, fail: Fail) -> None:
    have = {d.name for d in decls}
    for name in names:
        if name not in have:
            fail(f"{where} needs a '{name}' decision", pos)


def _check_layer_ops(block, fail: Fail) -> None:
    """Every op a layer can take must find the parameters it reads."""
    outer = {d.name for d in block.decisions}
    op = next((d for d in block.decisions if d.name == "op"), None)
    if op is None:
        cases = [("conv", set())]
    elif isinstance(op, FixedDecl):
        cases = [(op.value, set())]
    else:
        cases = [(o.value, {d.name for d in op.branches.get(str(o.value), [])}) for o in op.options]
    for name, inner in cases:
        for param in vocab.LAYER_OPS[name]:
            if param not in outer | inner and param not in vocab.LAYER_DEFAULTS:
                fail(f"layers with op '{name}' need a '{param}' decision", (op or block).pos)


def _check_block(block: Block, fail: Fail) -> None:
    if block.kind == "hyper":
        _check_decisions(block.decisions, vocab.HYPER_SLOTS, "hyper", fail)
    elif block.kind == "layers":
        _check_decisions(block.decisions, vocab.LAYER_SLOTS, "layers", fail, branching=True)
        _check_layer_ops(block, fail)
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
        slots = vocab.DAG_SLOTS if block.kind == "dag" else vocab.CELL_SLOTS
        _check_decisions(block.decisions, slots, f"a {block.kind}", fail)
        _require(block.decisions, vocab.REQUIRED[block.kind], f"a {block.kind}", block.pos, fail)


def space_task(space: SearchSpace) -> str | None:
    """`image` or `language`: what a checked space's children read (None for a space of hyper only)."""
    blocks = (_BLOCK_TASK[b.kind] for b in space.blocks if b.kind in _BLOCK_TASK)
    return space.settings.get("task") or next(blocks, None)


def check_space(space: SearchSpace, setting_pos: dict[str, Pos], fail: Fail) -> None:
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
        if key in seen:
            fail(f"duplicate {key} block", block.pos)
        seen[key] = block
        _check_block(block, fail)
    tasks = {_BLOCK_TASK[b.kind]: b for b in space.blocks if b.kind in _BLOCK_TASK}
    if len(tasks) > 1:
        fail("a space mixes image blocks (layers, cell) with language blocks (tree, dag)", tasks["language"].pos)
    declared = space.settings.get("task")
    if declared and tasks and declared not in tasks:
        fail(f"task '{declared}' does not fit the space's {next(iter(tasks.values())).kind} block", setting_pos["task"])
