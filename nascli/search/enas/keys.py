"""Shared keys, and where a child's tensor lies in its shared tensor (`Slice`).

Most child tensors are a whole shared tensor. Two families take a part of
one: ENAS micro's cell output conv (the blocks of the cell's loose ends) and
NAS-wired conv layers (once-for-all slices: a prefix of the filters, the
centre of the largest kernel, the blocks of the sources a layer reads). Both
say which part with one `Slice`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Runs = tuple[tuple[int, int], ...]  # (start, length) pieces of one dimension, concatenated in order


@dataclass(frozen=True)
class Slice:
    """A child's tensor as a part of its shared tensor: per leading dimension, the runs it takes
    (None: the whole dimension); later dimensions are whole.

    One run is a view (`narrow`), so in-place updates, such as training-mode batch norm's running
    statistics, reach the shared tensor; several are concatenated, a copy through which gradients
    flow back to each run. Either way the shared tensor gets gradient only where the child reads it.
    """

    runs: tuple[Runs | None, ...]
    whole: tuple[int, ...] | None = None  # the shared tensor's shape, where it is grown from a child's part

    def take(self, shared: Tensor) -> Tensor:
        out = shared
        for dim, runs in enumerate(self.runs):  # views first, so that a concatenation copies only what is read
            if runs is not None and len(runs) == 1:
                out = out.narrow(dim, *runs[0])
        for dim, runs in enumerate(self.runs):
            if runs is not None and len(runs) > 1:
                out = torch.cat([out.narrow(dim, start, length) for start, length in runs], dim)
        return out


Key = tuple[str, Slice | None]  # shared key, and the part of the shared tensor a child takes (None: all)


def op_key(layer, sliced: tuple[str, ...] = ("filters",)) -> str:
    """A layer's op and the parameters that give it tensors of its own (a plugin's kernel, say);
    `sliced` parameters pick a part of one shared tensor instead (the width is the space's)."""
    shape = ",".join(f"{k}={v}" for k, v in sorted(layer.params.items()) if k not in sliced)
    return (f"{layer.op}[{shape}]" if shape else layer.op).replace(".", "_")  # no '.' in a parameter name
