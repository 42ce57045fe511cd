"""Diagram -> DOT text (pure string building; graphviz is needed only to draw it).

Node labels are HTML-like (a bold title over smaller detail lines); ids and
edge labels are quoted DOT strings. `chain` becomes heavy edges (invisible
where the diagram has none) so that layers keep their order on one straight
spine even where no skip connects them, and each `same_rank` group is kept
left to right in its listed order the same way.
"""

from __future__ import annotations

from html import escape

from ..arch.records import Architecture
from .diagram import STYLES, Diagram, Node
from .conv import IMAGE_SHAPE
from .figure import architecture_diagram

FONT = "Helvetica"
# Beyond this many edges (a deep, densely skipped NAS net), edge labels float beside their edges
# (xlabel) instead of being laid out as nodes, and dot's layout effort is capped: otherwise a
# 39-layer net takes dot minutes (its ranks double and spline routing explodes).
BIG_GRAPH_EDGES = 120
TITLE_PT, NODE_PT, DETAIL_PT, EDGE_PT = 18, 14, 11, 11


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(node: Node) -> str:
    rows = [f"<B>{escape(node.title)}</B>"]
    rows += [f'<FONT POINT-SIZE="{DETAIL_PT}">{escape(line)}</FONT>' for line in node.detail.split("\n") if line]
    return "<" + "<BR/>".join(rows) + ">"


def _node_line(node: Node, chain: set[str]) -> str:
    style = STYLES[node.kind]
    look = "filled" if style.shape == "ellipse" else "filled,rounded"
    group = ", group=main" if node.id in chain else ""  # dot keeps edges inside a group straight
    return (f"{_quote(node.id)} [label={_label(node)}, shape={style.shape}, style={_quote(look)}, "
            f"fillcolor={_quote(style.fill)}{group}];")


def _edge_lines(diagram: Diagram) -> list[str]:
    lines, seen = [], set()
    label_key = "xlabel" if len(diagram.edges) > BIG_GRAPH_EDGES else "label"
    chained = set(zip(diagram.chain, diagram.chain[1:]))
    for edge in diagram.edges:
        attrs = []
        if edge.label:
            attrs.append(f"{label_key}={_quote(' ' + edge.label + ' ')}")
        if edge.dashed:
            attrs.append("style=dashed")
        if edge.kind is not None:
            colour = _quote(STYLES[edge.kind].edge)
            attrs += [f"color={colour}", f"fontcolor={colour}", "penwidth=1.6"]
        if (edge.src, edge.dst) in chained:
            attrs.append("weight=1000")  # keep the main path straight
        seen.add((edge.src, edge.dst))
        lines.append(f"{_quote(edge.src)} -> {_quote(edge.dst)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for src, dst in zip(diagram.chain, diagram.chain[1:]):
        if (src, dst) not in seen:
            lines.append(f"{_quote(src)} -> {_quote(dst)} [style=invis, weight=1000];")
    for group in diagram.same_rank:  # an edge within a rank puts its tail left of its head
        lines += [f"{_quote(a)} -> {_quote(b)} [style=invis];" for a, b in zip(group, group[1:]) if (a, b) not in seen]
    return lines


def diagram_to_dot(diagram: Diagram, dpi: int | None = None) -> str:
    """DOT text for `diagram`; `dpi` sets the resolution of PNG output."""
    lines = [
        f"// {diagram.comment}",
        "digraph architecture {",
        f"  graph [rankdir={diagram.direction}, label={_quote(diagram.title)}, labelloc=t, fontname={_quote(FONT)}, "
        f"fontsize={TITLE_PT}, nodesep=0.3, ranksep=0.35, newrank=true, bgcolor=white"
        + (f", dpi={dpi}" if dpi else "")
        + (", nslimit=1, nslimit1=1, mclimit=0.3" if len(diagram.edges) > BIG_GRAPH_EDGES else "") + "];",
        f"  node [fontname={_quote(FONT)}, fontsize={NODE_PT}, color=\"#555555\", penwidth=1.2, margin=\"0.15,0.06\"];",
        f"  edge [fontname={_quote(FONT)}, fontsize={EDGE_PT}, color=\"#444444\", arrowsize=0.7];",
    ]
    in_cluster = {node_id for cluster in diagram.clusters for node_id in cluster.nodes}
    by_id = {node.id: node for node in diagram.nodes}
    chain = set(diagram.chain)
    lines += ["  " + _node_line(node, chain) for node in diagram.nodes if node.id not in in_cluster]
    for cluster in diagram.clusters:
        lines.append(f"  subgraph {_quote(cluster.id)} {{")
        lines.append(f"    label={_quote(cluster.label)}; fontsize={NODE_PT + 2}; style=\"rounded,dashed\"; "
                     "color=\"#888888\";")
        lines += ["    " + _node_line(by_id[node_id], chain) for node_id in cluster.nodes]
        lines.append("  }")
    lines += ["  { rank=same; " + " ".join(_quote(n) + ";" for n in group) + " }" for group in diagram.same_rank]
    lines += ["  " + line for line in _edge_lines(diagram)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_dot(arch: Architecture, dpi: int | None = None, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> str:
    """DOT text of any architecture's figure."""
    return diagram_to_dot(architecture_diagram(arch, image_shape), dpi)
