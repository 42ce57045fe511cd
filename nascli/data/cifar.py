"""CIFAR-10 from the standard python batches (`cifar-10-batches-py/`).

Read with our own code rather than torchvision so that loading needs no
optional dependency and every problem becomes a one-line `DataError`.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nascli.data.base import ImageData, ImageTask
from nascli.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
CLASSES = 10
SHAPE = (3, 32, 32)
_ROW = SHAPE[0] * SHAPE[1] * SHAPE[2]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays.

    A CIFAR batch needs nothing else, and refusing every other global keeps a
    tampered file from running code when it is loaded.
    """

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("_codecs", "encode"),  # protocol-2 pickles (the original files) store bytes through it
            ("__builtin__", "bytes"),  # ... and an empty array's bytes through this
            ("builtins", "bytes"),
        }
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def batches_folder(data_dir: str | Path) -> Path:
    """The `cifar-10-batches-py` folder under `data_dir`, or `data_dir` itself."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"CIFAR-10 folder not found (expected {FOLDER}/ with data_batch_1..5 and test_batch)", where=str(root))
    nested = root / FOLDER
    return nested if nested.is_dir() else root


def _batch_files(folder: Path) -> tuple[list[Path], Path]:
    """The training batches present (1..5) and the test batch, or a DataError."""
    train = [folder / f"data_batch_{i}" for i in range(1, 6) if (folder / f"data_batch_{i}").is_file()]
    if not train:
        raise DataError(f"no CIFAR-10 training batches (data_batch_1..5) in this folder; get them from {URL}", where=str(folder))
    test = folder / "test_batch"
    if not test.is_file():
        raise DataError("CIFAR-10 test_batch is missing", where=str(test))
    return train, test


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as (uint8 N x 3072 pixels, int64 N labels), checked."""
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except OSError as e:
        raise DataError(f"cannot read CIFAR-10 batch: {e.strerror}", where=str(path)) from e
    except Exception as e:  # a damaged pickle can fail with almost any exception type
        raise DataError(f"corrupt CIFAR-10 batch: not a valid pickle ({type(e).__name__})", where=str(path)) from e
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError("corrupt CIFAR-10 batch: expected a dict with b'data' and b'labels'", where=str(path))
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"corrupt CIFAR-10 batch: b'data' must be uint8 N x {_ROW}, found {found}", where=str(path))
    try:
        labels = np.asarray(batch[b"labels"])
    except ValueError as e:  # ragged or otherwise unconvertible label lists
        raise DataError("corrupt CIFAR-10 batch: b'labels' is not a list of integers", where=str(path)) from e
    if labels.size == 0:  # an empty list reads as float64; an empty batch is well formed
        labels = labels.astype(np.int64).reshape(0)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(data):
        raise DataError(f"corrupt CIFAR-10 batch: b'labels' must be {len(data)} integers", where=str(path))
    if len(labels) and (labels.min() < 0 or labels.max() >= CLASSES):
        raise DataError(f"CIFAR-10 labels out of range 0..{CLASSES - 1} (found {labels.min()}..{labels.max()})", where=str(path))
    return data, labels.astype(np.int64)


def _read_split(paths: list[Path]) -> tuple[Tensor, Tensor]:
    """Concatenated batches as uint8 (N, 3, 32, 32) images and int64 labels."""
    parts = [read_batch(p) for p in paths]
    # Rows are the red, green and blue 32x32 planes in turn, so a plain reshape gives CHW.
    x = torch.from_numpy(np.concatenate([d for d, _ in parts])).view(-1, *SHAPE)
    y = torch.from_numpy(np.concatenate([l for _, l in parts]))
    return x, y


def load_cifar10(data_dir: str | Path, *, valid_fraction: float = 0.1, seed: int = 0) -> ImageData:
    """CIFAR-10 from `data_dir`, with a seeded random validation holdout.

    `round(valid_fraction * N)` training images (5,000 of 50,000 by default, as
    in the paper) become the validation set; both splits keep file order.
    Pixels are scaled to [0, 1] then normalised per channel with the mean and
    std of the training split after the holdout, so no statistic leaks from
    validation or test images.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise DataError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    folder = batches_folder(data_dir)
    train_paths, test_path = _batch_files(folder)
    x, y = _read_split(train_paths)
    test_x, test_y = _read_split([test_path])
    if not len(y) or not len(test_y):
        empty = "the training batches hold" if not len(y) else "test_batch holds"
        raise DataError(f"{empty} no images", where=str(folder))

    n_valid = round(valid_fraction * len(y))
    if n_valid >= len(y):
        raise DataError(f"only {len(y)} training images: nothing left after holding out {n_valid} for validation", where=str(folder))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    valid_idx, train_idx = order[:n_valid].sort().values, order[n_valid:].sort().values

    train_x = x[train_idx].float().div_(255)
    mean = train_x.mean(dim=(0, 2, 3))
    std = train_x.std(dim=(0, 2, 3), correction=0).clamp_min(1e-8)  # clamp: a constant channel must not divide by 0
    mean4, std4 = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)

    def normalise(images: Tensor) -> Tensor:
        return images.float().div_(255).sub_(mean4).div_(std4)

    return ImageData(
        train_x=train_x.sub_(mean4).div_(std4),
        train_y=y[train_idx],
        valid_x=normalise(x[valid_idx]),
        valid_y=y[valid_idx],
        test_x=normalise(test_x),
        test_y=test_y,
        mean=tuple(mean.tolist()),
        std=tuple(std.tolist()),
        task=ImageTask(channels=SHAPE[0], height=SHAPE[1], width=SHAPE[2], classes=CLASSES),
        source=str(folder),
        embedded=False,
    )


def augment(x: Tensor, generator: torch.Generator, *, padding: int = 4) -> Tensor:
    """Random crop after zero padding plus random horizontal flip, for a whole batch.

    `x` is (N, C, H, W). Each image gets its own offset in [0, 2*padding] on
    both axes and a coin-flip mirror, all drawn from `generator`, then one
    advanced-indexing gather builds the batch (no per-image Python loop).
    Zero is the padding value because on normalised inputs it is the
    training-set mean colour.
    """
    n, c, h, w = x.shape
    device = generator.device  # draw where the generator lives, then move the indices to x
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device).to(x.device)
    flip = (torch.rand(n, 1, generator=generator, device=device) < 0.5).to(x.device)
    rows = dy + torch.arange(h, device=x.device)  # (n, h) rows of the padded image
    cols = dx + torch.arange(w, device=x.device)  # (n, w)
    cols = torch.where(flip, cols.flip(1), cols)
    padded = F.pad(x, (padding, padding, padding, padding))
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def download(dest: str | Path) -> Path:
    """Fetch CIFAR-10 into `dest` through torchvision; returns the batches folder.

    torchvision is optional, so it is imported only here; without it, or
    without a network, the DataError says where to put the files by hand.
    """
    dest = Path(dest).expanduser()
    hint = f"download {URL} and unpack it so that {dest / FOLDER}/ holds data_batch_1..5 and test_batch"
    try:
        import torchvision
    except ImportError as e:
        raise DataError(f"cannot download CIFAR-10: torchvision is not installed; {hint}", where=str(dest)) from e
    try:
        torchvision.datasets.CIFAR10(root=str(dest), train=True, download=True)  # one archive holds every split
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a bad checksum is a RuntimeError
        reason = " ".join(str(e).split())
        raise DataError(f"cannot download CIFAR-10 (network unreachable?): {reason}; {hint}", where=str(dest)) from e
    folder = dest / FOLDER
    _batch_files(folder)
    return folder
