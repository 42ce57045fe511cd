"""Seeded random holdouts and per-channel normalisation, shared by the image loaders."""

from __future__ import annotations

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
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[held_n:].sort().values, order[:held_n].sort().values


Split = tuple[Tensor, Tensor]  # (uint8 images (N, C, H, W), int64 labels (N,))


def channel_stats(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std of uint8 (N, C, H, W) images scaled to [0, 1].

    Computed from a 256-bin histogram per channel: exact, and several times faster
    than a float reduction over every pixel, which matters for a cached reload."""
    levels = torch.arange(256, dtype=torch.float64) / 255
    counts = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256)
                          for c in range(images.shape[1])]).double()
    n = counts.sum(1)
    mean = (counts * levels).sum(1) / n
    var = (counts * (levels - mean[:, None]) ** 2).sum(1) / n
    return mean.float(), var.sqrt().float().clamp_min(1e-8)  # clamp: a constant channel must not divide by 0


def normalised_images(train: Split, valid: Split, test: Split, classes: int, source: str,
                      class_names: tuple[str, ...] = (), splits_note: str = "", cache_file: str = "") -> ImageData:
    """ImageData from uint8 splits, to be normalised per channel with the training split's
    mean and std (so no statistic leaks from validation or test) as batches are taken."""
    mean, std = channel_stats(train[0])
    # (x / 255 - mean) / std, as one subtraction and one division of the raw pixel values
    shift, scale = (255 * mean).view(-1, 1, 1), (255 * std).view(-1, 1, 1)
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
