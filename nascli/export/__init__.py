"""`nascli export`: a found child as a standalone PyTorch file (model.py), TorchScript (model.pt) or ONNX
(model.onnx), with a model card (MODEL.md) beside it.

    locate(source, best, run, ...) -> Located          the architecture, its data, sizes and weights' place
    check_export(path, weights, fmt) -> format         fails fast: a bad suffix, missing weights or extra
    export_child(arch, task, child_config, weights, path, fmt, data) -> Exported
    export_located(found, data, path, fmt) -> (Exported, card path)   export_child + write_card
    module_source(arch, model, task, weights) -> str   the model.py text
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..data.base import Data, Task
from ..errors import NasError, RunError
from ..render.output import OutputError, check_output, output_format, write_output
from .card import write_card
from .generated import fit_weights, generated_child, load_weights
from .locate import Located, locate
from .module_source import WeightsNote, module_source
from .onnx_blame import blame
from .onnx_check import Parity, ParityError, check_batches, check_parity
from .onnx_export import exportable, require_onnx, write_onnx
from .torchscript import write_torchscript

FORMATS = ("py", "pt", "onnx")


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str  # one of FORMATS
    parity: Parity | None = None  # onnx: onnxruntime's check against the child


def export_format(path: Path, fmt: str | None = None) -> str:
    """`fmt`, or the format `path`'s suffix names; a suffix naming another format than `fmt` is refused."""
    if fmt is None:
        return output_format(path, FORMATS)
    if fmt not in FORMATS:
        raise OutputError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}")
    named = path.suffix.lower().lstrip(".")
    if named in FORMATS and named != fmt:
        raise OutputError(f"the name asks for .{named}, --format for {fmt}; give one", where=str(path))
    return fmt


def check_export(path: Path, weights: WeightsNote, fmt: str | None = None) -> str:
    """The format to write; 'pt' and 'onnx' need trained weights, 'onnx' the onnx extra. Cheap: call it first."""
    fmt = export_format(path, fmt)
    check_output(path)
    if fmt != "py" and not weights.trained:
        raise RunError(f"no trained weights at {weights.path}; run `{weights.command}` first", where=str(path))
    if fmt == "onnx":
        require_onnx()
    return fmt


def _discard(path: Path) -> None:
    for file in (path, path.with_name(path.name + ".data")):
        with contextlib.suppress(OSError):
            file.unlink()


def _checked_onnx(source: str, built, task: Task, data: Data | None, weights: WeightsNote, path: Path) -> Parity:
    """ONNX of the generated child at `path`, checked by onnxruntime against `built` with the same weights."""
    if data is None:
        raise RunError("an ONNX export is checked against onnxruntime on real data; pass the dataset")
    state_dict = load_weights(weights.path)
    reference = fit_weights(built, state_dict, weights.path)
    checks = check_batches(data, reference)
    with generated_child(source, state_dict, weights.path) as child:
        try:
            sig = write_onnx(child, task, checks.batches[0], path)
        except NasError:
            raise
        except Exception as err:  # noqa: BLE001  (the exporter's failures have no common type)
            _discard(path)
            raise blame(exportable(child, task), child, built, checks.batches[0], err) from None
    try:
        return check_parity(path, sig, reference, task, checks)
    except ParityError:
        _discard(path)
        raise


def export_child(arch: Architecture, task: Task, child_config: ChildConfig, weights: WeightsNote,
                 path: str | Path, fmt: str | None = None, data: Data | None = None) -> Exported:
    """Write `arch`'s child for `task` as model.py source, TorchScript (.pt) or ONNX with its trained weights.

    `fmt` defaults to the suffix's format; ONNX needs `data` (whose task is `task`) for its check."""
    path = Path(path)
    fmt = check_export(path, weights, fmt)
    built = build_child(arch, task, child_config)
    source = module_source(arch, built, task, weights)
    if fmt == "py":
        return Exported(write_output(path, source), fmt)
    if fmt == "pt":
        return Exported(write_torchscript(source, load_weights(weights.path), weights.path, path), fmt)
    return Exported(path, fmt, _checked_onnx(source, built, task, data, weights, path))


def export_located(found: Located, data: Data, path: str | Path, fmt: str | None = None) -> tuple[Exported, Path]:
    """`found`'s child exported to `path` for `data`, and its model card MODEL.md beside it."""
    exported = export_child(found.arch, data.task, found.child, found.weights, path, fmt, data)
    return exported, write_card(found, data, exported)


__all__ = ["FORMATS", "Exported", "Located", "WeightsNote", "check_export", "export_child", "export_format",
           "export_located", "locate", "module_source"]
