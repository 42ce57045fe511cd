"""TorchScript of a child (`nascli export -o model.pt`): the generated module file, scripted with trained weights.

Scripting the generated source (rather than tracing the built child) keeps the
language models' time loop a loop, so the saved model takes any sequence
length, and gives one code path for every family. The source is imported
from a temporary file because TorchScript reads a class's source text.
"""

from __future__ import annotations

import importlib.util
import tempfile
import uuid
import warnings
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ChildError, RunError
from ..render.output import OutputError
from ..runs.checkpoint import TensorFileError, load_tensors


def _load_weights(path: Path) -> dict[str, Tensor]:
    try:
        state = load_tensors(path)
    except OSError as err:
        raise RunError(f"cannot read the trained weights: {err.strerror or err}", where=str(path)) from None
    except TensorFileError as err:
        raise RunError(f"cannot read the trained weights: {err}", where=str(path)) from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise RunError("cannot read the trained weights: not a state dict (names to tensors)", where=str(path))
    return state


def write_torchscript(source: str, weights: Path, path: Path) -> Path:
    """Save `Child` of the generated `source`, with the state_dict in `weights`, as TorchScript at `path`."""
    state_dict = _load_weights(weights)
    with tempfile.TemporaryDirectory() as folder:
        module_file = Path(folder) / "child.py"
        module_file.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"nascli_export_{uuid.uuid4().hex}", module_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        child = module.Child()
        try:
            child.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            lines = str(err).splitlines()
            raise ChildError(f"the weights do not fit this child (trained for another dataset?): "
                             f"{lines[-1].strip()}", where=str(weights)) from None
        child.eval()
        with warnings.catch_warnings():  # torch 2.x marks torch.jit deprecated; the format still loads everywhere
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*")
            scripted = torch.jit.script(child)
            try:
                torch.jit.save(scripted, str(path))
            except (OSError, RuntimeError) as err:
                raise OutputError(f"cannot write: {err}", where=str(path)) from None
    return path
