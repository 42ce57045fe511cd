"""Architecture -> Diagram, by family: conv layers, tree cell, DAG cell, micro cells or a dense cell."""

from __future__ import annotations

from ..arch.records import Architecture
from ..errors import ArchitectureError
from .cells import dag_diagram, dense_diagram, micro_diagram, tree_diagram
from .conv import IMAGE_SHAPE, conv_diagram
from .diagram import Diagram
from .mlp import mlp_diagram


def architecture_diagram(arch: Architecture, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Diagram:
    """The figure of `arch` as a drawing-neutral graph; predicted hyper-parameters join its title.
    `image_shape` (C, H, W) is the input a conv child reads: its data's."""
    if arch.task == "tabular":
        diagram = mlp_diagram(arch)
    elif arch.layers is not None and arch.cells is None:  # layers before cells are the cells' stem
        diagram = conv_diagram(arch, image_shape)
    elif arch.tree is not None:
        diagram = tree_diagram(arch)
    elif arch.dag is not None:
        diagram = dag_diagram(arch)
    elif arch.cells:
        diagram = micro_diagram(arch)
    elif arch.dense is not None:
        diagram = dense_diagram(arch)
    else:
        raise ArchitectureError("nothing to draw: no layers, tree, dag or cells", where=arch.tokens)
    if arch.hyper:
        diagram.title += "  (" + ", ".join(f"{k} = {v}" for k, v in arch.hyper.items()) + ")"
    return diagram
