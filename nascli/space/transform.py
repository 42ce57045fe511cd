"""Lark parse tree -> SearchSpace IR.

Resolves `let` references and rejects what a tree can show is wrong on its own
(duplicates, undefined names). Checks that need the vocabulary live in checks.py.
"""

from __future__ import annotations

import hashlib
import math

from lark import Token, Tree

from ..errors import SpaceSemanticError
from .checks import check_space
from .literals import integer
from .parser import literal, source_context
from .vocab import SETTINGS
from .ir import (
    AnchorDecl,
    CellBlock,
    CellNetwork,
    ChoiceDecl,
    DagBlock,
    DenseBlock,
    FixedDecl,
    HyperBlock,
    IndexDecl,
    LayersBlock,
    Option,
    Pos,
    Schedule,
    SearchSpace,
    Section,
    SkipOffsets,
    TreeBlock,
    Value,
)


# Bounds on sizes: far beyond the papers' (39 layers, base 8, 12 nodes), small
# enough that compiling a space stays instant.
MAX_SIZE = 1000
# Branches inside branches: the deepest the bundled spaces go is 1; the checks, the compiler and the
# controller walk them recursively, so a file nested hundreds deep must stop here, with its position.
MAX_BRANCH_DEPTH = 16


def _shown(tok: Token, room: int = 20) -> str:
    """A token as an error quotes it: a number hundreds of digits long is cut, with its length."""
    text = str(tok)
    return text if len(text) <= room else f"{text[:room]}... ({len(text):,} characters)"


def _pos(node: Tree | Token) -> Pos:
    if isinstance(node, Token):
        return Pos(line=node.line, column=node.column)
    return Pos(line=node.meta.line, column=node.meta.column)


class _Builder:
    """Walks one parse tree; `fail` raises a positioned SpaceSemanticError."""

    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.lets: dict[str, list[Option]] = {}
        self.scope: set[str] = set()  # decisions declared so far in the enclosing list, for branches
        self.branch_depth = 0  # branches around the decision being read

    def fail(self, message: str, pos: Pos) -> None:
        raise SpaceSemanticError(
            message,
            where=f"{self.source}:{pos.line}:{pos.column}",
            detail=source_context(self.text, pos.line, pos.column),
        )

    # -- values -------------------------------------------------------------
    def option(self, tok: Token, value: Value | None = None) -> Option:
        """The option `tok` spells; `value`: its value, when the parser has read it already."""
        value = literal(tok) if value is None else value
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"'{_shown(tok)}' is too large a number", _pos(tok))
        return Option(value=value, text=str(tok), pos=_pos(tok))

    def options(self, tree: Tree) -> list[Option]:
        """A choice list's options; the parser has refused duplicates (parser.ChoiceValues)."""
        read = tree.children[0] or []
        if not read:
            self.fail("empty choice list; expected at least one value", _pos(tree))
        return [self.option(tok, value) for tok, value in read]

    def skip_offsets(self, tree: Tree) -> SkipOffsets:
        """`{1, 3}` after `=`: how far back each read layer is, so positive integers."""
        opts = self.options(tree)
        for opt in opts:
            if not isinstance(opt.value, int) or opt.value <= 0:
                self.fail(f"a fixed skip set counts layers back (1 = the layer before): positive integers, "
                          f"got '{opt.text}'", opt.pos)
        return SkipOffsets(offsets=tuple(sorted(opt.value for opt in opts)))

    # -- decisions ----------------------------------------------------------
    def decision(self, tree: Tree):
        name_tok: Token = tree.children[0]
        name, pos = str(name_tok), _pos(name_tok)
        if tree.data == "fixed":
            value = self.option(tree.children[1])
            return FixedDecl(name=name, value=value.value, pos=value.pos)
        if tree.data == "fixed_set":
            return FixedDecl(name=name, value=self.skip_offsets(tree.children[1]), pos=pos)
        domain = tree.children[1]
        if isinstance(domain, Token):  # a bare NAME domain is a reference to a `let`
            domain = Tree("ref", [domain])
        if domain.data == "anchor":
            return AnchorDecl(name=name, pos=pos)
        if domain.data == "index":
            return IndexDecl(name=name, pos=pos)
        if domain.data == "ref":
            ref: Token = domain.children[0]
            if str(ref) not in self.lets:
                known = ", ".join(sorted(self.lets)) or "none defined"
                self.fail(f"'{ref}' is not defined; expected a choice list or a let name ({known})", _pos(ref))
            return ChoiceDecl(name=name, options=self.lets[str(ref)], pos=pos)
        if domain.data == "choices":
            return ChoiceDecl(name=name, options=self.options(domain), pos=pos)
        if self.branch_depth == MAX_BRANCH_DEPTH:
            self.fail(f"branches nested more than {MAX_BRANCH_DEPTH} deep", pos)
        branches: dict[str, list] = {}
        options = []
        self.branch_depth += 1
        for branch in domain.children:
            label: Token = branch.children[0]
            if str(label) in branches:
                self.fail(f"duplicate branch '{label}'", _pos(label))
            branches[str(label)] = self.decisions(branch.children[1:], outer=self.scope | {name})
            options.append(Option(value=str(label), text=str(label), pos=_pos(label)))
        self.branch_depth -= 1
        return ChoiceDecl(name=name, options=options, branches=branches, pos=pos)

    def decisions(self, trees: list[Tree], outer: set[str] = frozenset()) -> list:
        """Decisions of one scope; `outer` holds the names already decided around it (a branch's block)."""
        out, seen, enclosing = [], set(outer), self.scope
        for tree in trees:
            self.scope = seen
            decl = self.decision(tree)
            self.scope = enclosing
            if decl.name in seen:
                self.fail(f"duplicate decision '{decl.name}'", decl.pos)
            if isinstance(decl, FixedDecl) and isinstance(decl.value, str) and decl.value in seen:
                decl = decl.model_copy(update={"tied": True})  # `a = b`: a takes b's value
            seen.add(decl.name)
            out.append(decl)
            for branch in getattr(decl, "branches", {}).values():
                seen.update(d.name for d in branch)  # a name may not repeat under a branch either
        return out

    def body(self, tree: Tree) -> tuple[list, list[Section]]:
        decisions = self.decisions([c for c in tree.children if c.data != "section"])
        sections: list[Section] = []
        for sec in (c for c in tree.children if c.data == "section"):
            label: Token = sec.children[0]
            if any(s.name == str(label) for s in sections):
                self.fail(f"duplicate section '{label}'", _pos(label))
            sections.append(Section(name=str(label), decisions=self.decisions(sec.children[1:]), pos=_pos(label)))
        return decisions, sections

    # -- blocks -------------------------------------------------------------
    def positive(self, tok: Token, what: str, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
        value = integer(str(tok))  # None: more digits than any bound here allows
        if value is not None and value < minimum:
            self.fail(f"{what} must be at least {minimum}, got {value}", _pos(tok))
        if value is None or value > maximum:
            self.fail(f"{what} must be at most {maximum}, got {_shown(tok)}", _pos(tok))
        return value

    def no_sections(self, sections: list[Section], kind: str) -> None:
        if sections:
            self.fail(f"a {kind} block takes no sections, found '{sections[0].name}'", sections[0].pos)

    def block(self, tree: Tree):
        kind, pos, ch = tree.data, _pos(tree), tree.children
        if kind == "hyper":
            return HyperBlock(decisions=self.decisions(ch), pos=pos)
        if kind == "layers":
            schedule = None
            if len(ch) == 3:
                start, grow, every = ch[1].children
                schedule = Schedule(
                    start=self.positive(start, "the starting depth"),
                    grow=self.positive(grow, "the depth step", minimum=0),
                    every=self.positive(every, "the samples between depth steps", maximum=10**9),
                    pos=_pos(ch[1]),
                )
            decisions, sections = self.body(ch[-1])
            for sec in sections:
                if sec.name != "stage":
                    self.fail(f"a layers block takes one section, 'stage' (decisions made once for the stage), "
                              f"not '{sec.name}'", sec.pos)
            stage = sections[0] if sections else None
            staged = {d.name for d in stage.decisions} if stage else set()
            for decl in (d for d in decisions if d.name in staged):
                self.fail(f"duplicate decision '{decl.name}': decided in the stage section and per layer", decl.pos)
            max_layers = self.positive(ch[0], "the number of layers")
            if schedule and schedule.start > max_layers:
                self.fail(f"the schedule starts at {schedule.start} layers, above the maximum {max_layers}", schedule.pos)
            return LayersBlock(max_layers=max_layers, schedule=schedule, decisions=decisions, stage=stage, pos=pos)
        if kind == "tree":
            decisions, sections = self.body(ch[1])
            return TreeBlock(base=self.positive(ch[0], "the tree's base", minimum=2), decisions=decisions, sections=sections, pos=pos)
        if kind == "dag":
            decisions, sections = self.body(ch[1])
            self.no_sections(sections, "dag")
            return DagBlock(nodes=self.positive(ch[0], "the number of nodes"), decisions=decisions, pos=pos)
        if kind == "dense":
            decisions, sections = self.body(ch[-1])
            self.no_sections(sections, "dense")
            return DenseBlock(name=str(ch[0]), nodes=self.positive(ch[1], "the number of nodes", minimum=2, maximum=20),
                              stages=self.positive(ch[2], "the number of stages", maximum=8),
                              repeat=self.positive(ch[3], "the cells per stage", maximum=100),
                              width=self.positive(ch[4], "the first stage's width", maximum=4096),
                              decisions=decisions, pos=pos)
        # cell NAME nodes N inputs I [stride S] { body }
        name, nodes, inputs = ch[0], ch[1], ch[2]
        stride = self.positive(ch[3].children[0], "the cell's stride") if len(ch) == 5 else 1
        decisions, sections = self.body(ch[-1])
        self.no_sections(sections, "cell")
        n_inputs = self.positive(inputs, "the number of cell inputs")
        n_nodes = self.positive(nodes, "the number of nodes", minimum=n_inputs + 1)
        return CellBlock(name=str(name), nodes=n_nodes, inputs=n_inputs, stride=stride, decisions=decisions, pos=pos)

    def space(self, tree: Tree) -> SearchSpace:
        name_tok, *items = tree.children
        settings: dict = {}
        requires: list[Option] = []
        network = None
        blocks = []
        for item in items:
            if item.data == "setting":
                key: Token = item.children[0]
                if str(key) in settings:
                    self.fail(f"duplicate setting '{key}'", _pos(key))
                if str(key) not in SETTINGS:
                    self.fail(f"unknown setting '{key}'; expected one of: {', '.join(SETTINGS)}", _pos(key))
                settings[str(key)] = (item.children[1], self.option(item.children[1]).value)
            elif item.data == "network":
                if network is not None:
                    self.fail("duplicate network declaration", _pos(item))
                stages, repeat, width, stem = item.children
                network = CellNetwork(stages=self.positive(stages, "the number of stages", maximum=8),
                                      repeat=self.positive(repeat, "the cells per stage", maximum=100),
                                      width=self.positive(width, "the first stage's width", maximum=4096),
                                      stem=self.positive(stem, "the stem's width", maximum=4096), pos=_pos(item))
            elif item.data == "requires":
                requires += [Option(value=str(tok), text=str(tok), pos=_pos(tok)) for tok in item.children]
            elif item.data == "let":
                key = item.children[0]
                if str(key) in self.lets:
                    self.fail(f"duplicate let '{key}'", _pos(key))
                self.lets[str(key)] = self.options(item.children[1])
            else:
                blocks.append(self.block(item))
        space = SearchSpace(
            name=str(name_tok),
            source=self.source,
            sha256=hashlib.sha256(self.text.encode()).hexdigest(),
            settings={k: v for k, (_, v) in settings.items()},
            requires=requires,
            network=network,
            blocks=blocks,
        )
        check_space(space, {k: _pos(tok) for k, (tok, _) in settings.items()}, self.fail)
        return space


def to_space(tree: Tree, text: str, source: str) -> SearchSpace:
    return _Builder(text, source).space(tree)
