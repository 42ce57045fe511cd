"""Datasets for nascli: CIFAR-10 and Penn Treebank, real or embedded sample.

`load_dataset` reads a user folder, or, without one, the small sample shipped
in `nascli/data/embedded/` so that every command works offline.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nascli.data.base import ImageData, ImageTask, LanguageTask, Task, TextData
from nascli.data.cifar import augment, load_cifar10
from nascli.data.cifar import download as download_cifar10
from nascli.data.ptb import batchify, bptt_batches, load_ptb
from nascli.errors import DataError

KNOWN_DATASETS = ("cifar10", "ptb")
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"

__all__ = [
    "KNOWN_DATASETS",
    "ImageData",
    "ImageTask",
    "LanguageTask",
    "Task",
    "TextData",
    "augment",
    "batchify",
    "bptt_batches",
    "download_cifar10",
    "load_dataset",
]


def load_dataset(
    name: str, data_dir: str | Path | None = None, *, valid_fraction: float = 0.1, seed: int = 0
) -> ImageData | TextData:
    """Load dataset `name` from `data_dir`, or the embedded sample when it is None.

    `valid_fraction` and `seed` control the CIFAR-10 validation holdout; PTB
    ships its own validation split and ignores them.
    """
    if name not in KNOWN_DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN_DATASETS)}")
    folder = EMBEDDED_DIR / name if data_dir is None else Path(data_dir)
    data: ImageData | TextData
    if name == "cifar10":
        data = load_cifar10(folder, valid_fraction=valid_fraction, seed=seed)
    else:
        data = load_ptb(folder)
    if data_dir is None:
        return replace(data, source=f"embedded sample (nascli/data/embedded/{name})", embedded=True)
    return data
