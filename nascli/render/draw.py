"""Write an architecture's figure as .dot, .svg, .png or .pdf (through graphviz's `dot`).

Without the `dot` program an image is refused before anything is written (an
OutputError with the install hint); the `.dot` text needs no program.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz

from ..arch.records import Architecture
from .conv import IMAGE_SHAPE
from .dot import to_dot
from .output import OutputError, check_output, output_format, write_output

FORMATS = ("dot", "svg", "png", "pdf")
PNG_DPI = 150  # sharp enough to print; svg and pdf are vector anyway


def has_dot() -> bool:
    """Whether Graphviz's `dot`, which draws every format but .dot, is installed."""
    return shutil.which("dot") is not None


def draw(arch: Architecture, path: str | Path, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Path:
    """Write `arch`'s figure to `path`, in the format its suffix names; a conv child reads `image_shape`."""
    path = Path(path)
    fmt = output_format(path, FORMATS)
    if fmt == "dot":
        return write_output(path, to_dot(arch, image_shape=image_shape))
    check_output(path)  # a missing folder is the first thing to fix
    if not has_dot():
        raise OutputError(f"a .{fmt} figure needs Graphviz's `dot` program, which is not installed: apt-get install "
                          f"graphviz (or brew install graphviz); or write the DOT text with -o "
                          f"{path.with_suffix('.dot')} and draw it elsewhere", where=str(path))
    text = to_dot(arch, dpi=PNG_DPI if fmt == "png" else None, image_shape=image_shape)
    return write_output(path, graphviz.Source(text).pipe(format=fmt))
