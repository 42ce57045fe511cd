"""What nascli sees in a dataset: its kind, splits, classes and shape, for `nascli data`.

`guess_kind` picks a kind from what a path holds, so that `nascli data PATH`
works without `--dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from nascli.data.base import Data, ImageData, TabularData, TextData
from nascli.data.images import SUFFIXES
from nascli.data.text import SPLIT_NAMES

SPLITS = ("train", "valid", "test")


@dataclass
class Description:
    facts: list[tuple[str, str]]  # (label, value) lines
    class_counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # class -> train, valid, test


def guess_kind(path: Path) -> str:
    """csv for a .csv file, text for any other file or a folder of text splits, cifar10 for CIFAR
    batches, images for a folder whose subfolders hold images (directly or under train/)."""
    if path.is_file():
        return "csv" if path.suffix.lower() == ".csv" else "text"
    if (path / "data_batch_1").is_file() or (path / "cifar-10-batches-py").is_dir():
        return "cifar10"
    if any((path / name).is_file() for names in SPLIT_NAMES.values() for name in names):
        return "text"
    return "images" if path.is_dir() and any(p.suffix.lower() in SUFFIXES for p in path.rglob("*")) else "text"


def _counts(labels: list[torch.Tensor], names: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    per_split = [torch.bincount(y, minlength=len(names)).tolist() for y in labels]
    return {name: tuple(counts[i] for counts in per_split) for i, name in enumerate(names)}


def describe(data: Data, kind: str) -> Description:
    facts = [("kind", kind), ("source", data.source)]
    if isinstance(data, TextData):
        sizes = (len(data.train), len(data.valid), len(data.test))
        facts += [("splits", ", ".join(f"{s} {n:,} tokens" for s, n in zip(SPLITS, sizes))),
                  ("vocabulary", f"{data.task.vocab_size:,} {data.tokens} tokens, <unk> and <eos> included")]
        return Description(facts + ([("held out", data.splits_note)] if data.splits_note else []))
    labels = [data.train_y, data.valid_y, data.test_y]
    facts.append(("splits", ", ".join(f"{s} {len(y):,}" for s, y in zip(SPLITS, labels))))
    if data.splits_note:
        facts.append(("held out", data.splits_note))
    names = data.class_names or tuple(str(i) for i in range(data.task.classes))
    if isinstance(data, ImageData):
        task = data.task
        facts.append(("images", f"{task.height}×{task.width}, {task.channels} channel{'s' if task.channels > 1 else ''}"))
        facts.append(("cache", data.cache_file or "none (read straight from its files)"))
    elif isinstance(data, TabularData):
        one_hot = sum("=" in name for name in data.feature_names)
        facts.append(("features", f"{data.task.features} ({data.task.features - one_hot} numeric, "
                                  f"{one_hot} one-hot)"))
    facts.append(("classes", str(data.task.classes)))
    return Description(facts, _counts(labels, names))
