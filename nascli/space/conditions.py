"""Conditional decisions: a layer decision that only some of its ops read exists only under those ops.

In `op: {mbconv, identity}  kernel: {3, 5, 7}`, `kernel` means something only when `mbconv` is
picked. Counted and decided unconditionally it would triple the architectures under `identity`
without changing the network, and teach the controller a choice that does nothing. So the compiler
treats such a decision as if it were written under each op that reads it, with the mechanism that
already makes conv_pool's `conv { filter_height ... }` exist only for `conv` (a `ChoiceDecl`'s
branches, hence `Decision.condition`): `lift_conditional` moves it, as written, into those ops'
branches, after their own decisions. Counts, sampling, token strings, the controller and the
builder then see only decisions that some op reads.
"""

from __future__ import annotations

from ..ops import OPS
from .ir import ChoiceDecl, FixedDecl
from .vocab import LAYER_SLOTS


def op_reads(name: str) -> set[str]:
    """The layer decisions op `name` reads: its own parameters, and the layer settings every image op
    honours (`merge` is a layer slot, read by the wiring whatever the op)."""
    spec = OPS.get(name)
    return {p.name for p in spec.params} | set(spec.settings) - {"merge"}


def partly_read(decls: list) -> tuple[ChoiceDecl | None, dict[str, list[str]]]:
    """The layer's `op` choice, and each decision only some of its values read -> the values that read it."""
    op = next((d for d in decls if d.name == "op"), None)
    if not isinstance(op, ChoiceDecl):
        return None, {}
    values = [str(o.value) for o in op.options]
    if any(v not in OPS for v in values):  # an unknown op: the checks report it
        return op, {}
    reads = {v: op_reads(v) for v in values}
    out = {}
    for decl in decls:
        readers = [v for v in values if decl.name in reads[v]]
        if decl.name not in LAYER_SLOTS and readers and len(readers) < len(values):
            out[decl.name] = readers
    return op, out


def lift_conditional(decls: list) -> list:
    """`decls` with each decision only some ops read moved under the branches of the ops that read it."""
    op, partial = partly_read(decls)
    if not partial:
        return decls
    moved = [d for d in decls if d.name in partial]
    branches = {str(o.value): list(op.branches.get(str(o.value), [])) + [d for d in moved if str(o.value) in partial[d.name]]
                for o in op.options}
    lifted = op.model_copy(update={"branches": {k: v for k, v in branches.items() if v}})
    return [lifted if d is op else d for d in decls if d.name not in partial]


def missing_tie_targets(decls: list) -> list[tuple[FixedDecl, str]]:
    """Ties (`a = b`) whose decision `b` does not exist under some op that reads `a`, with that op."""
    lifted = lift_conditional(decls)
    outer = {d.name for d in lifted}
    op = next((d for d in lifted if d.name == "op"), None)
    found = []
    for value, branch in (op.branches.items() if isinstance(op, ChoiceDecl) else ()):
        have = outer | {d.name for d in branch}
        found += [(d, value) for d in branch if isinstance(d, FixedDecl) and d.tied and str(d.value) not in have]
    return found
