"""Seeded random holdouts and per-channel normalisation, shared by the image loaders."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nascli.data.base import ImageData, ImageTask, NormalisedImages
from nascli.errors import DataError


def check_fraction(name: str, fraction: float) -> None:
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"{name} must be in [0, 1), got {fraction}")


def holdout(n: int, fraction: float, seed: int, where: str) -> tuple[Tensor, Tensor]:
    """(kept, held) index tensors: `round(fraction * n)` of `n` items held out at random, both sorted.

    Keeping file order within each part makes a split depend only on `seed`.
    """
    held_n = round(fraction * n)
    if held_n >= n:
        raise DataError(f"only {n} examples: nothing left after holding out {held_n}", where=where)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    # numpy sorts: the same values, without torch's first-sort set-up in a fresh process (~0.5 ms of a cached reload)
    return torch.from_numpy(np.sort(order[held_n:])), torch.from_numpy(np.sort(order[:held_n]))


Split = tuple[Tensor, Tensor]  # (uint8 images (N, C, H, W), int64 labels (N,))


def pixel_sums(pixels: np.ndarray) -> np.ndarray:
    """int64 (N, C, 2): each uint8 (C, H, W) image's per-channel sum of pixel values and of their
    squares. Summed over any split, they give its channel mean and std exactly (channel_stats),
    so the image cache stores them and a reload never reads every pixel to normalise."""
    flat = pixels.reshape(*pixels.shape[:2], -1)
    squares = np.einsum("ncp,ncp->nc", flat, flat, dtype=np.int64)
    return np.stack([flat.sum(-1, dtype=np.int64), squares], axis=-1)


def channel_stats(sums: np.ndarray, pixels_per_image: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel float32 mean and std, on the [0, 1] scale, of the images whose `pixel_sums` are `sums`.

    In numpy: a handful of operations on (C, 2) numbers, which torch would dispatch at several times the cost."""
    totals = sums.sum(0).astype(np.float64)  # (C, 2), exact: int64 sums converted once
    n = max(len(sums), 1) * pixels_per_image * 255.0
    mean = totals[:, 0] / n
    var = np.maximum(totals[:, 1] / (n * 255.0) - mean**2, 0)
    std = np.maximum(np.sqrt(var).astype(np.float32), np.float32(1e-8))  # a constant channel must not divide by 0
    return mean.astype(np.float32), std


def normalised_images(train: Split, valid: Split, test: Split, classes: int, source: str,
                      class_names: tuple[str, ...] = (), splits_note: str = "", cache_file: str = "",
                      train_sums: np.ndarray | None = None) -> ImageData:
    """ImageData from uint8 splits, to be normalised per channel with the training split's
    mean and std (so no statistic leaks from validation or test) as batches are taken.
    `train_sums`: the training images' `pixel_sums` where a cache holds them."""
    if train_sums is None:
        train_sums = pixel_sums(train[0].numpy())
    mean, std = channel_stats(train_sums, train[0].shape[2] * train[0].shape[3])
    # (x / 255 - mean) / std, as one subtraction and one division of the raw pixel values
    shift, scale = torch.from_numpy((255 * mean).reshape(-1, 1, 1)), torch.from_numpy((255 * std).reshape(-1, 1, 1))
    _, channels, height, width = train[0].shape
    return ImageData(
        train_x=NormalisedImages(train[0], shift, scale),
        train_y=train[1],
        valid_x=NormalisedImages(valid[0], shift, scale),
        valid_y=valid[1],
        test_x=NormalisedImages(test[0], shift, scale),
        test_y=test[1],
        mean=tuple(mean.tolist()),
        std=tuple(std.tolist()),
        task=ImageTask(channels=channels, height=height, width=width, classes=classes),
        source=source,
        embedded=False,
        class_names=class_names,
        splits_note=splits_note,
        cache_file=cache_file,
    )
