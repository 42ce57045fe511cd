"""NAS-Bench-201: the exact mapping between `spaces/nb201.space` and the benchmark's `arch` strings.

Our token string lists the dense cell's six edges in NAS-Bench-201's order
(node 1's input edge, node 2's two, node 3's three; `DenseBlock.edges`), and
the benchmark's string is the same edges grouped by target node:
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, `op~i` the op on the edge from node i.
Only the op names differ. A space is the table's space only when it builds
the table's network: one dense cell of 4 nodes, 3 stages of 5 cells, 16 wide,
each edge choosing among exactly the table's five ops, and nothing else
searched (a hyper-parameter decision would change what the table measured).
"""

from __future__ import annotations

from ..arch import Architecture, architecture
from ..arch.tokens import decode_tokens
from ..errors import BenchmarkError
from ..space.compiler import CompiledSpace
from ..space.ir import ChoiceDecl

# our op name -> the benchmark's
TABLE_OPS = {"none": "none", "identity": "skip_connect", "conv_1x1": "nor_conv_1x1",
             "conv_3x3": "nor_conv_3x3", "avg_pool_3x3": "avg_pool_3x3"}
OUR_OPS = {table: ours for ours, table in TABLE_OPS.items()}
LAYOUT = {"nodes": 4, "stages": 3, "repeat": 5, "width": 16}


def check_space(compiled: CompiledSpace) -> None:
    """Refuse a space that is not the table's (BenchmarkError naming what differs)."""
    blocks = compiled.space.blocks
    where = compiled.space.source or compiled.name

    def refuse(why: str) -> None:
        raise BenchmarkError(f"space '{compiled.name}' is not NAS-Bench-201's space ({why}); the table covers "
                             "spaces/nb201.space only", where=where)

    if len(blocks) != 1 or blocks[0].kind != "dense":
        refuse("it must be one dense cell and nothing else")
    block = blocks[0]
    for name, want in LAYOUT.items():
        if getattr(block, name) != want:
            refuse(f"{name} {getattr(block, name)}, the table's is {want}")
    decls = block.decisions
    if len(decls) != 1 or not isinstance(decls[0], ChoiceDecl) or decls[0].name != "op" or decls[0].branches:
        refuse("each edge must make one decision, op, and no other")
    ops = {o.text for o in decls[0].options}
    if ops != set(TABLE_OPS):
        refuse(f"its ops are {{{', '.join(sorted(ops))}}}, the table's {{{', '.join(sorted(TABLE_OPS))}}}")


def arch_string(arch: Architecture) -> str:
    """The benchmark's `arch` string of a decoded nb201 architecture."""
    cell = arch.dense
    if cell is None or any(getattr(cell, k) != v for k, v in LAYOUT.items()) or arch.hyper:
        raise BenchmarkError("not a NAS-Bench-201 architecture (the table covers spaces/nb201.space only)",
                             where=arch.tokens)
    nodes: list[list[str]] = [[] for _ in range(cell.nodes)]
    for edge in sorted(cell.edges, key=lambda e: (e.target, e.source)):
        if edge.op not in TABLE_OPS:
            raise BenchmarkError(f"op '{edge.op}' is not one of the table's", where=arch.tokens)
        nodes[edge.target].append(f"{TABLE_OPS[edge.op]}~{edge.source}")
    return "+".join("|" + "|".join(ops) + "|" for ops in nodes[1:])


def tokens_string(compiled: CompiledSpace, arch: str) -> str:
    """Our token string of a benchmark `arch` string (the inverse of `arch_string`)."""
    check_space(compiled)
    nodes = arch.split("+")
    edges: list[str] = []
    for target, node in enumerate(nodes, start=1):
        parts = node.strip("|").split("|")
        if len(nodes) != LAYOUT["nodes"] - 1 or len(parts) != target:
            raise BenchmarkError("not a NAS-Bench-201 arch string (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)",
                                 where=arch)
        for source, part in enumerate(parts):
            op, _, at = part.partition("~")
            if op not in OUR_OPS or at != str(source):
                raise BenchmarkError(f"'{part}' is not an op of the table on the edge from node {source}", where=arch)
            edges.append(OUR_OPS[op])
    tokens = f"{compiled.name}: " + " / ".join(edges)
    decode_tokens(compiled, tokens)  # the space's own check of the string
    return tokens


def architecture_of(compiled: CompiledSpace, arch: str) -> Architecture:
    """The decoded architecture of a benchmark `arch` string."""
    return architecture(compiled, *decode_tokens(compiled, tokens_string(compiled, arch)))
