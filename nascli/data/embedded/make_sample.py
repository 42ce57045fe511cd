"""Regenerate the embedded sample from the real data in ../shared/data.

    python nascli/data/embedded/make_sample.py [SHARED_DATA_DIR]

CIFAR-10: the first 100 training images of each class (data_batch_1..5 read
in order) and the first 30 test images of each class, in file order, written
in the standard python-batch format; `batches.meta` is copied as is.
PTB: the three ptb-mini text files are copied as they are.
Deterministic: the same input always gives byte-identical files.
"""

from __future__ import annotations

import pickle
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "data"
TRAIN_PER_CLASS = 100
TEST_PER_CLASS = 30
CLASSES = 10


def _load(path: Path) -> dict:
    with path.open("rb") as f:
        return pickle.load(f, encoding="bytes")  # trusted: the project's own data folder (a maintainer script)


def _first_per_class(batches: list[dict], per_class: int, label: bytes) -> dict:
    """The first `per_class` images of each class, kept in file order."""
    data = np.concatenate([b[b"data"] for b in batches])
    labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches])
    filenames = [name for b in batches for name in b[b"filenames"]]
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(CLASSES)]))
    if len(keep) != per_class * CLASSES:
        raise SystemExit(f"source has fewer than {per_class} images of some class")
    return {
        b"batch_label": label,
        b"labels": labels[keep].tolist(),
        b"data": np.ascontiguousarray(data[keep]),
        b"filenames": [filenames[i] for i in keep],
    }


def _dump(batch: dict, path: Path) -> None:
    # Protocol 4 stores the pixels as raw bytes; the originals' protocol 2
    # inflates them by about half, which would break the 5 MB budget.
    with path.open("wb") as f:
        pickle.dump(batch, f, protocol=4)


def main(source: Path) -> None:
    cifar_src = source / "cifar10-mini" / "cifar-10-batches-py"
    cifar_dst = HERE / "cifar10" / "cifar-10-batches-py"
    cifar_dst.mkdir(parents=True, exist_ok=True)
    train = [_load(cifar_src / f"data_batch_{i}") for i in range(1, 6)]
    _dump(_first_per_class(train, TRAIN_PER_CLASS, b"training batch 1 of 1"), cifar_dst / "data_batch_1")
    _dump(_first_per_class([_load(cifar_src / "test_batch")], TEST_PER_CLASS, b"testing batch 1 of 1"), cifar_dst / "test_batch")
    shutil.copyfile(cifar_src / "batches.meta", cifar_dst / "batches.meta")

    ptb_dst = HERE / "ptb"
    ptb_dst.mkdir(exist_ok=True)
    for split in ("train", "valid", "test"):
        shutil.copyfile(source / "ptb-mini" / f"ptb.{split}.txt", ptb_dst / f"ptb.{split}.txt")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
