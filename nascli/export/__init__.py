"""`nascli export`: a found child as a standalone PyTorch file (model.py) or TorchScript (model.pt).

    locate(source, best, run, ...) -> Located          the architecture, its data, sizes and weights' place
    check_export(path, weights) -> 'py' | 'pt'         fails fast on a bad suffix or missing weights
    export_child(arch, task, child_config, weights, path) -> Path
    module_source(arch, model, task, weights) -> str   the model.py text
"""

from __future__ import annotations

from pathlib import Path

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..data.base import Task
from ..errors import RunError
from ..render.output import check_output, output_format, write_output
from .locate import Located, locate
from .module_source import WeightsNote, module_source
from .torchscript import write_torchscript

FORMATS = ("py", "pt")


def check_export(path: Path, weights: WeightsNote) -> str:
    """The format `path` asks for ('py' or 'pt'); 'pt' needs trained weights. Cheap: call it before loading data."""
    fmt = output_format(path, FORMATS)
    check_output(path)
    if fmt == "pt" and not weights.trained:
        raise RunError(f"no trained weights at {weights.path}; run `{weights.command}` first", where=str(path))
    return fmt


def export_child(arch: Architecture, task: Task, child_config: ChildConfig, weights: WeightsNote,
                 path: str | Path) -> Path:
    """Write `arch`'s child for `task` as model.py source, or as TorchScript with its trained weights (.pt)."""
    path = Path(path)
    fmt = check_export(path, weights)
    source = module_source(arch, build_child(arch, task, child_config), task, weights)
    if fmt == "py":
        return write_output(path, source)
    return write_torchscript(source, weights.path, path)


__all__ = ["FORMATS", "Located", "WeightsNote", "check_export", "export_child", "locate", "module_source"]
