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
from ..space.literals import integer, number

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
        for g in range(compiled.groups_in(b, depth, assignment)):  # a stage: as many layers as its depth
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
            value = number(tok)  # ASCII digits only: '１６' is not 16
            for o in d.options:  # numbers match by value: `1e-3` picks the space's `0.001`
                if o.text == tok or (value is not None and not isinstance(o.value, str) and o.value == value):
                    return o.value
            allowed = ", ".join(o.text for o in d.options)
            self.fail(f"'{tok}' is not a value of {d.path}; the space allows: {allowed}", col)
        if d.kind == "anchor":
            if tok == "-":
                return ()
            parts = [integer(p) for p in tok.split(",")]
            if None in parts or len(set(parts)) != len(parts):
                self.fail(f"'{tok}' is not an anchor for {d.path}; expected '-' or distinct earlier layers like '0,2'", col)
            layers = tuple(sorted(parts))
            bad = [x for x in layers if x not in d.candidates]
            if bad:
                self.fail(f"{d.path} cannot read layer {bad[0]}; it may read layers 0..{d.candidates[-1]}", col)
            return layers
        node = integer(tok)
        if node is None or node not in d.candidates:
            self.fail(f"'{tok}' is not a node {d.path} can pick; expected one of 0..{d.candidates[-1]}", col)
        return node

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
            expected = self.compiled.groups_in(b, depth, assignment)
            if len(groups) != expected:
                why = f" (its stage's depth is {expected})" if plan.depth else ""
                self.fail(f"block '{plan.label}' has {len(groups)} groups separated by '/', the space has {expected}"
                          f"{why}", groups[-1][-1][1] if groups[-1] else len(self.text) - 1)
            for g, tokens in enumerate(groups):
                self.read_group(plan, b, g, tokens, assignment)
        return assignment, depth

    def read_group(self, plan: BlockPlan, b: int, g: int, tokens, assignment: Assignment) -> None:
        try:
            assignment.update(self.group_values(plan, self.compiled.group_decisions(b, g), g, tokens))
        except TokenError:
            if plan.written is None:
                raise
            assignment.update(self.written_group(plan, b, g, tokens))  # or the error of the form written now

    def written_group(self, plan: BlockPlan, b: int, g: int, tokens) -> Assignment:
        """A group as earlier versions wrote it, every decision of the layer with a token (`BlockPlan.written`);
        the values of the decisions that exist now. The group's error as now written if it is not one."""
        try:
            values = self.group_values(plan, self.compiled.group_decisions(b, g, written=True), g, tokens)
        except TokenError:
            return self.group_values(plan, self.compiled.group_decisions(b, g), g, tokens)
        chosen: dict[str, Value] = {}
        for d in self.compiled.group_decisions(b, g):
            if is_active(d, chosen):
                chosen[d.name] = values[d.path]
        return {d.path: values[d.path] for d in self.compiled.group_decisions(b, g) if d.name in chosen}

    def group_values(self, plan: BlockPlan, decisions, g: int, tokens) -> Assignment:
        chosen: dict[str, Value] = {}
        values: Assignment = {}
        it = iter(tokens)
        last = tokens[-1][1] + len(tokens[-1][0]) if tokens else len(self.text) - 1
        for d in decisions:
            if not is_active(d, chosen):
                continue
            tok = next(it, None)
            if tok is None:
                self.fail(f"missing a value for {d.path}", last)
            values[d.path] = chosen[d.name] = self.parse_token(d, *tok)
        extra = next(it, None)
        if extra is not None:
            self.fail(f"unexpected '{extra[0]}': group {g} of block '{plan.label}' is already complete", extra[1])
        return values


def decode_tokens(compiled: CompiledSpace, text: str) -> tuple[Assignment, int | None]:
    """Parse `text` against `compiled`; raise TokenError naming the token at fault."""
    name = space_name(text)
    if name != compiled.name:
        raise TokenError(f"the token string is for space '{name}', not '{compiled.name}'")
    return _Reader(compiled, text).read()


def decision_values(compiled: CompiledSpace, text: str) -> dict[str, Value | str]:
    """The decisions a token string makes, by path (`layers[3].filters`), in controller order:
    a choice's value as the space spells it (a number stays a number), an anchor as its token
    (`0,2` or `-`), an index as its node number. For tracking tools that show one column per decision."""
    assignment, depth = decode_tokens(compiled, text)
    values: dict[str, Value | str] = {}
    for groups in active_decisions(compiled, assignment, depth):
        for group in groups:
            for d in group:
                value = assignment[d.path]
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                values[d.path] = value if d.kind != "anchor" and numeric else format_token(d, value)
    return values
