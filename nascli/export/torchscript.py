"""TorchScript of a child (`nascli export -o model.pt`): the generated module file, scripted with trained weights.

Scripting the generated source (rather than tracing the built child) keeps the
language models' time loop a loop, so the saved model takes any sequence
length, and gives one code path for every family (see generated.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor

from ..render.output import OutputError
from .generated import generated_child


def write_torchscript(source: str, state_dict: dict[str, Tensor], weights: Path, path: Path) -> Path:
    """Save `Child` of the generated `source`, with `state_dict` (read from `weights`), as TorchScript at `path`."""
    with generated_child(source, state_dict, weights) as child:
        with warnings.catch_warnings():  # torch 2.x marks torch.jit deprecated; the format still loads everywhere
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*")
            scripted = torch.jit.script(child)
            try:
                torch.jit.save(scripted, str(path))
            except (OSError, RuntimeError) as err:
                raise OutputError(f"cannot write: {err}", where=str(path)) from None
    return path
