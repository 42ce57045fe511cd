"""The generated model.py text as a live module: `Child` with trained weights, for TorchScript and ONNX.

Both binary formats are made from the generated source (not the built child),
so model.py, model.pt and model.onnx are one network by construction. The
source is imported from a temporary file because TorchScript reads a class's
source text; the text is nascli's own (names from files appear only in its
escaped docstring), and trained weights load as tensors only.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import Tensor, nn

from ..errors import ChildError, RunError
from ..runs.checkpoint import TensorFileError, load_tensors


def load_weights(path: Path) -> dict[str, Tensor]:
    """The state dict in `path`, or a one-line RunError (load_tensors: tensors and plain containers only)."""
    try:
        state = load_tensors(path)
    except OSError as err:
        raise RunError(f"cannot read the trained weights: {err.strerror or err}", where=str(path)) from None
    except TensorFileError as err:
        raise RunError(f"cannot read the trained weights: {err}", where=str(path)) from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise RunError("cannot read the trained weights: not a state dict (names to tensors)", where=str(path))
    return state


def fit_weights(model: nn.Module, state_dict: dict[str, Tensor], weights: Path) -> nn.Module:
    """`model` with `state_dict` loaded (every key, every shape), in eval mode."""
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        lines = str(err).splitlines()
        raise ChildError(f"the weights do not fit this child (trained for another dataset, or by a nascli "
                         f"that built its layers otherwise? retrain it with `nascli eval`): "
                         f"{lines[-1].strip()}", where=str(weights)) from None
    return model.eval()


@contextmanager
def generated_child(source: str, state_dict: dict[str, Tensor], weights: Path) -> Iterator[nn.Module]:
    """`Child()` of the generated `source` with `state_dict` loaded, in eval mode, while its file exists."""
    with tempfile.TemporaryDirectory() as folder:
        module_file = Path(folder) / "child.py"
        module_file.write_text(source, encoding="utf-8")
        name = f"nascli_export_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, module_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # torch.export (the ONNX exporter) looks the module up by name
        try:
            spec.loader.exec_module(module)
            yield fit_weights(module.Child(), state_dict, weights)
        finally:
            del sys.modules[name]
