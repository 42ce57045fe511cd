"""Token strings <-> assignments (decision path -> value).

Format: `SPACE: block ; block ...`, each block `group / group ...`, each group
its decisions' tokens separated by spaces, in controller order. A choice is
written as the value the space file spells (`5`, `tanh`, `sep_conv_3x3`); an
anchor as the earlier layers it reads, `0,2`, or `-` for none; an index as the
node number. Decisions that do not exist (a branch not taken, layer 0's
anchor, node 0's prev) write nothing. Example (the paper's worked example):

    rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0
"""

from __future__ import annotations

import re
from typing import Union

from ..errors import TokenError
from ..space.compiler import BlockPlan, CompiledSpace, Decision
from ..space.ir import Value

Assignment = dict[str, Union[Value, tuple[int, ...]]]
_SCAN = re.compile(r";|/|[^\s;/]+")


def space_name(text: str) -> str:
    """The space a token string names before its ':'."""
    head, sep, _ = text.partition(":")
    name = head.strip()
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise TokenError(f"a token string starts with its space's name and ':', e.g. 'conv: 3 3 24 / ...'; got '{text[:30]}'")
    return name


def format_token(d: Decision, value) -> str:
    if d.kind == "choice":
        return next(o.text for o in d.options if o.value == value)
    if d.kind == "anchor":
        return ",".join(map(str, value)) if value else "-"
    return str(value)


def is_active(d: Decision, chosen: dict[str, Value]) -> bool:
    """Whether `d` exists given the values `chosen` so far in its group (by decision name)."""
    return d.condition is None or str(chosen.get(d.condition[0])) == d.condition[1]


def active_decisions(compiled: CompiledSpace, assignment: Assignment, depth: int | None) -> list[list[list[Decision]]]:
    """Per block, per group, the decisions that exist under `assignment`."""
    out = []
    for b, plan in enumerate(compiled.blocks):
        groups = []
        for g in range(compiled.group_count(plan, depth)):
            chosen: dict[str, Value] = {}
            active = []
            for d in compiled.group_decisions(b, g):
                if is_active(d, chosen):
                    active.append(d)
                    chosen[d.name] = assignment[d.path]
            groups.append(active)
        out.append(groups)
    return out


def encode(compiled: CompiledSpace, assignment: Assignment, depth: int | None = None) -> str:
    blocks = active_decisions(compiled, assignment, depth)
    body = " ; ".join(
        " / ".join(" ".join(format_token(d, assignment[d.path]) for d in group) for group in groups)
        for groups in blocks
    )
    return f"{compiled.name}: {body}"


def _number(tok: str) -> int | float | None:
    for kind in (int, float):
        try:
            return kind(tok)
        except ValueError:
            pass
    return None


class _Reader:
    """Parses one token string against a compiled space, with caret-pointing errors."""

    def __init__(self, compiled: CompiledSpace, text: str):
        self.compiled, self.text = compiled, text
        self.start = text.index(":") + 1

    def fail(self, message: str, col: int) -> None:
        raise TokenError(message, where=f"token string, column {col + 1}",
                         detail=f"  {self.text}\n  {' ' * col}^")

    def split(self) -> list[list[list[tuple[str, int]]]]:
        blocks: list[list[list[tuple[str, int]]]] = [[[]]]
        for m in _SCAN.finditer(self.text, self.start):
            if m.group() == ";":
                blocks.append([[]])
            elif m.group() == "/":
                blocks[-1].append([])
            else:
                blocks[-1][-1].append((m.group(), m.start()))
        return blocks

    def parse_token(self, d: Decision, tok: str, col: int):
        if d.kind == "choice":
            number = _number(tok)
            for o in d.options:  # numbers match by value: `1e-3` picks the space's `0.001`
                if o.text == tok or (number is not None and not isinstance(o.value, str) and o.value == number):
                    return o.value
            allowed = ", ".join(o.text for o in d.options)
            self.fail(f"'{tok}' is not a value of {d.path}; the space allows: {allowed}", col)
        if d.kind == "anchor":
            if tok == "-":
                return ()
            parts = tok.split(",")
            if not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
                self.fail(f"'{tok}' is not an anchor for {d.path}; expected '-' or distinct earlier layers like '0,2'", col)
            layers = tuple(sorted(int(p) for p in parts))
            bad = [x for x in layers if x not in d.candidates]
            if bad:
                self.fail(f"{d.path} cannot read layer {bad[0]}; it may read layers 0..{d.candidates[-1]}", col)
            return layers
        if not tok.isdigit() or int(tok) not in d.candidates:
            self.fail(f"'{tok}' is not a node {d.path} can pick; expected one of 0..{d.candidates[-1]}", col)
        return int(tok)

    def depth(self, blocks) -> int | None:
        for b, plan in enumerate(self.compiled.blocks):
            if plan.variable and b < len(blocks):
                n = len(blocks[b])
                if n not in self.compiled.depths:
                    allowed = ", ".join(map(str, self.compiled.depths))
                    self.fail(f"{n} layers; the space allows {allowed}", blocks[b][0][0][1] if blocks[b][0] else self.start)
                return n
        return None

    def read(self) -> tuple[Assignment, int | None]:
        blocks = self.split()
        plans = self.compiled.blocks
        if len(blocks) != len(plans):
            labels = " ; ".join(p.label for p in plans)
            self.fail(f"found {len(blocks)} blocks separated by ';', the space has {len(plans)} ({labels})", len(self.text) - 1)
        depth = self.depth(blocks)
        assignment: Assignment = {}
        for b, (plan, groups) in enumerate(zip(plans, blocks)):
            expected = self.compiled.group_count(plan, depth)
            if len(groups) != expected:
                self.fail(f"block '{plan.label}' has {len(groups)} groups separated by '/', the space has {expected}",
                          groups[-1][-1][1] if groups[-1] else len(self.text) - 1)
            for g, tokens in enumerate(groups):
                self.read_group(plan, b, g, tokens, assignment)
        return assignment, depth

    def read_group(self, plan: BlockPlan, b: int, g: int, tokens, assignment: Assignment) -> None:
        chosen: dict[str, Value] = {}
        it = iter(tokens)
        last = tokens[-1][1] + len(tokens[-1][0]) if tokens else len(self.text) - 1
        for d in self.compiled.group_decisions(b, g):
            if not is_active(d, chosen):
                continue
            tok = next(it, None)
            if tok is None:
                self.fail(f"missing a value for {d.path}", last)
            assignment[d.path] = chosen[d.name] = self.parse_token(d, *tok)
        extra = next(it, None)
        if extra is not None:
            self.fail(f"unexpected '{extra[0]}': group {g} of block '{plan.label}' is already complete", extra[1])


def decode_tokens(compiled: CompiledSpace, text: str) -> tuple[Assignment, int | None]:
    """Parse `text` against `compiled`; raise TokenError naming the token at fault."""
    name = space_name(text)
    if name != compiled.name:
        raise TokenError(f"the token string is for space '{name}', not '{compiled.name}'")
    return _Reader(compiled, text).read()
