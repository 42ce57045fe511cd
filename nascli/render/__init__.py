"""Seeing an architecture: figures (DOT, SVG, PNG, PDF) and terminal trees.

    architecture_diagram(arch) -> Diagram     the wiring, drawing-neutral
    to_dot(arch) -> str                       DOT text (no graphviz needed)
    draw(arch, path) -> Path                  .dot/.svg/.png/.pdf through graphviz's `dot`
    architecture_tree(arch) -> rich Tree      for the terminal
"""

from .diagram import Diagram, Edge, Node
from .dot import diagram_to_dot, to_dot
from .draw import FORMATS, draw, has_dot
from .figure import architecture_diagram
from .output import OutputError
from .terminal import architecture_tree

__all__ = ["FORMATS", "Diagram", "Edge", "Node", "OutputError", "architecture_diagram", "architecture_tree",
           "diagram_to_dot", "draw", "has_dot", "to_dot"]
