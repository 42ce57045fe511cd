"""ONNX of a child (`nascli export --format onnx`): the generated module, exported by torch.onnx.

Exporter: `torch.onnx.export(..., dynamo=True)` (torch.export, then onnxscript's
ATen-to-ONNX library), at opset 18. It is torch's default exporter since 2.9;
the TorchScript-based one warns that it is deprecated and will be removed. It
exported a child of every bundled space, and onnxruntime matched them within
1e-5 (tests/test_onnx.py), with a language model's time loop as a Scan. Opset
18 is that library's own opset, so no version-conversion pass runs, and
onnxruntime has read it since 1.14.

The graph's inputs and outputs are named, with a dynamic batch axis:

    images   (B, C, H, W) float32          -> logits (B, classes)
    features (B, F) float32                -> logits (B, classes)
    tokens   (T, B) int64, h (B, H)[, c]   -> logits (T, B, V), h_out[, c_out]

A language model's recurrent state is an explicit input and output (c, c_out
only for a tree cell with a memory cell), and its time loop is one ONNX Scan,
so T is dynamic too: feed h_out back as h to go on from where a call stopped.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.base import ImageTask, LanguageTask, TabularTask, Task
from ..errors import NasError
from ..render.output import OutputError

OPSET = 18
EXPORTER = "torch.onnx.export(dynamo=True)"
PACKAGES = ("onnx", "onnxruntime", "onnxscript")
INSTALL = "pip install 'nascli[onnx]'"
PROTOBUF_LIMIT = 2**31 - 2**26  # weights past ~2 GB go to a `.data` file beside the model (protobuf's limit)


class OnnxUnavailable(NasError):
    """ONNX export asked for without the `onnx` extra installed."""


def require_onnx() -> None:
    """Fail in one line, naming the pip command, when a package of the `onnx` extra is missing."""
    missing = []
    for name in PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise OnnxUnavailable(f"ONNX export needs {', '.join(missing)}: {INSTALL}")


@dataclass(frozen=True)
class Signature:
    """The ONNX graph's input and output names, and which axes of each input are dynamic."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic: dict[str, dict[int, str]]  # input -> {axis: dimension name}; a name shared by inputs is one dim


def signature(task: Task, state_parts: int = 1) -> Signature:
    """The graph's names for `task`; `state_parts` is 2 for a (h, c) recurrent state."""
    if isinstance(task, ImageTask):
        return Signature(("images",), ("logits",), {"images": {0: "batch"}})
    if isinstance(task, TabularTask):
        return Signature(("features",), ("logits",), {"features": {0: "batch"}})
    assert isinstance(task, LanguageTask)
    state = ("h", "c")[:state_parts]
    return Signature(("tokens", *state), ("logits", *(f"{s}_out" for s in state)),
                     {"tokens": {0: "steps", 1: "batch"}, **{s: {0: "batch"} for s in state}})


def _contiguous(t: Tensor) -> Tensor:
    # Scan's carried state must keep its layout and no output may alias another (h_t is also the state's h)
    return t.clone(memory_format=torch.contiguous_format)


class ScannedLanguageModel(nn.Module):
    """The generated language model with its time loop as one Scan, so that the ONNX model takes any T.

    Computes what the generated `Child.forward` does (embedding, dropout, the cell over T steps,
    dropout, decoder), with the state flattened into separate tensors."""

    def __init__(self, child: nn.Module) -> None:
        super().__init__()
        self.child = child

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, ...]:
        from torch._higher_order_ops.scan import scan  # torch's scan; torch.onnx turns it into ONNX Scan

        child = self.child
        x_proj = child.cell.x_proj(child.dropout(child.embedding(tokens)))  # (T, B, K)

        def step(carry: list[Tensor], x_t: Tensor) -> tuple[list[Tensor], Tensor]:
            h_t, after = child.cell(x_t, tuple(carry) if len(carry) > 1 else carry[0])
            after = list(after) if isinstance(after, tuple) else [after]
            return [_contiguous(s) for s in after], _contiguous(h_t)

        final, hidden = scan(step, [h] if c is None else [h, c], x_proj)  # hidden (T, B, H)
        return (child.decoder(child.dropout(hidden)), *final)


def exportable(child: nn.Module, task: Task) -> nn.Module:
    return ScannedLanguageModel(child) if isinstance(task, LanguageTask) else child


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """The exporter's progress lines, warnings and log records are not nascli's output."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def run_exporter(module: nn.Module, args: tuple[Tensor, ...], sig: Signature | None, path: Path | None):
    """torch.onnx.export at OPSET, saving to `path` (None: only convert); raises the exporter's own errors."""
    kwargs = {}
    if sig is not None:
        dims = {name: torch.export.Dim(name) for axes in sig.dynamic.values() for name in axes.values()}
        kwargs = dict(input_names=list(sig.inputs), output_names=list(sig.outputs),
                      dynamic_shapes=tuple({axis: dims[name] for axis, name in sig.dynamic[i].items()}
                                           for i in sig.inputs))  # by position: forward's names are its own
    big = sum(p.numel() * p.element_size() for p in module.parameters()) > PROTOBUF_LIMIT
    with quiet_exporter(), torch.no_grad():
        return torch.onnx.export(module, args, None if path is None else str(path), dynamo=True,
                                 opset_version=OPSET, external_data=big, verbose=False, **kwargs)


def write_onnx(child: nn.Module, task: Task, args: tuple[Tensor, ...], path: Path) -> Signature:
    """Export `child` (eval mode) traced on `args` (the graph's inputs, in order) to `path`."""
    sig = signature(task, len(args) - 1)
    try:
        run_exporter(exportable(child, task), args, sig, path)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror or err}", where=str(path)) from None
    return sig
