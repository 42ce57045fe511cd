"""Datasets for nascli: every `--dataset` kind is an entry of the registry (registry.py).

Built in: cifar10 and ptb (real or the embedded sample), and the user's own
data: image folders (`images`), any text corpus (`text`) and CSV tables
(`csv`). `load_dataset` reads a user folder, or, without one, the small sample
shipped in `nascli/data/embedded/` so that every command works offline.
"""

from __future__ import annotations

from pathlib import Path

# Importing each loader module registers its kind.
from nascli.data import cifar, images, ptb, tabular, text  # noqa: F401
from nascli.data.base import (Data, ImageData, ImageTask, LabelledSplits, LanguageTask, NormalisedImages, TabularData,
                              TabularTask, Task, TextData)
from nascli.data.cifar import augment
from nascli.data.cifar import download as download_cifar10
from nascli.data.ptb import batchify, bptt_batches
from nascli.data.registry import dataset_kind, known_datasets, register_dataset
from nascli.data.spec import DataSpec

__all__ = [
    "Data",
    "DataSpec",
    "ImageData",
    "ImageTask",
    "LabelledSplits",
    "LanguageTask",
    "NormalisedImages",
    "TabularData",
    "TabularTask",
    "Task",
    "TextData",
    "augment",
    "batchify",
    "bptt_batches",
    "dataset_kind",
    "download_cifar10",
    "known_datasets",
    "load_dataset",
    "register_dataset",
]


def load_dataset(name: str, data_dir: str | Path | None = None, **options) -> Data:
    """Load dataset kind `name` from `data_dir`, or its embedded sample when that is None.

    `options` are DataSpec fields (valid_fraction, seed, image_size, tokens, ...)."""
    return DataSpec(name=name, data_dir=str(data_dir) if data_dir is not None else None, **options).load()
