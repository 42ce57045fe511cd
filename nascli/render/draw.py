"""Write an architecture's figure as .dot, .svg, .png or .pdf (through graphviz's `dot`).

Without the `dot` program the DOT source is written next to the requested
file and `Drawn.rendered` is False, so the caller can say how to get images.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import graphviz

from ..arch.records import Architecture
from .conv import IMAGE_SHAPE
from .dot import to_dot
from .output import output_format, write_output

FORMATS = ("dot", "svg", "png", "pdf")
PNG_DPI = 150  # sharp enough to print; svg and pdf are vector anyway


@dataclass(frozen=True)
class Drawn:
    path: Path  # the file written
    rendered: bool  # False: `dot` is missing and `path` is the DOT source beside the requested image


def draw(arch: Architecture, path: str | Path, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Drawn:
    """Write `arch`'s figure to `path`, in the format its suffix names; a conv child reads `image_shape`."""
    path = Path(path)
    fmt = output_format(path, FORMATS)
    if fmt == "dot":
        return Drawn(write_output(path, to_dot(arch, image_shape=image_shape)), True)
    text = to_dot(arch, dpi=PNG_DPI if fmt == "png" else None, image_shape=image_shape)
    if shutil.which("dot") is None:
        return Drawn(write_output(path.with_suffix(".dot"), text), False)
    return Drawn(write_output(path, graphviz.Source(text).pipe(format=fmt)), True)
