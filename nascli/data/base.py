"""Typed records shared by the dataset loaders.

A loader returns one of these immutable records; model builders read only the
`task` (input shape / vocabulary size) and trainers read the tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ImageTask:
    """Shape of an image-classification problem: inputs (channels, height, width)."""

    channels: int
    height: int
    width: int
    classes: int


@dataclass(frozen=True)
class LanguageTask:
    """A word-level language-modelling problem over `vocab_size` token ids."""

    vocab_size: int


@dataclass(frozen=True)
class TabularTask:
    """Rows of `features` numbers (after encoding) to classify into `classes`."""

    features: int
    classes: int


Task = ImageTask | LanguageTask | TabularTask


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == is elementwise, not a bool
class LabelledSplits:
    """Inputs `*_x` and int64 (N,) class ids `*_y` of the train, validation and test splits:
    what a classifier (image or table) trains and is scored on."""

    train_x: Tensor
    train_y: Tensor
    valid_x: Tensor
    valid_y: Tensor
    test_x: Tensor
    test_y: Tensor


@dataclass(frozen=True, eq=False)
class NormalisedImages:
    """One image split, kept as the uint8 (N, C, H, W) pixels it was decoded to; indexing it
    (`images[idx]`, `images[a:b]`, `images[:]`) gives those images as float32, normalised per
    channel: (pixel / 255 - mean) / std.

    Normalising where a batch is formed, not the whole split at load time, makes a cached
    reload cost little more than reading the cache, and holds a quarter of the memory."""

    pixels: Tensor  # uint8 (N, C, H, W)
    shift: Tensor  # 255 * mean, float32 (C, 1, 1)
    scale: Tensor  # 255 * std, float32 (C, 1, 1)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index) -> Tensor:
        """The selected images (index the first axis only: one image, a slice or indices), normalised."""
        return self.pixels[index].float().sub_(self.shift).div_(self.scale)

    @property
    def shape(self) -> torch.Size:
        return self.pixels.shape

    def cat(self, other: NormalisedImages) -> NormalisedImages:
        """These images followed by `other`'s (normalised the same way)."""
        return NormalisedImages(torch.cat([self.pixels, other.pixels]), self.shift, self.scale)


@dataclass(frozen=True, eq=False)
class ImageData(LabelledSplits):
    """Image splits.

    `*_x` are NormalisedImages: uint8 (N, C, H, W) pixels that index as float32
    normalised per channel with `mean`/`std` (computed on the training split
    after the validation holdout). `source`
    says where the data was read from and `embedded` is True for the sample
    shipped inside the package.
    """

    train_x: NormalisedImages
    valid_x: NormalisedImages
    test_x: NormalisedImages
    mean: tuple[float, ...]
    std: tuple[float, ...]
    task: ImageTask
    source: str
    embedded: bool
    class_names: tuple[str, ...] = ()  # index -> name, where the data names its classes
    splits_note: str = ""  # how the splits were made (e.g. which were held out, with which seed)
    cache_file: str = ""  # the decoded-pixel cache it was read from (image folders)


@dataclass(frozen=True, eq=False)
class TextData:
    """Token-id streams of a word-level corpus.

    `train`/`valid`/`test` are 1-D int64 tensors of ids into `vocab`
    (index -> word); every line ends with `<eos>` and words unseen in
    training are `<unk>`.
    """

    train: Tensor
    valid: Tensor
    test: Tensor
    vocab: list[str]
    task: LanguageTask
    source: str
    embedded: bool
    tokens: str = "word"  # word or char
    splits_note: str = ""


@dataclass(frozen=True, eq=False)
class TabularData(LabelledSplits):
    """Encoded table splits: `*_x` float32 (N, features).

    `feature_names` names each encoded column (a one-hot column is `column=value`);
    `class_names` maps class id -> the target column's value.
    """

    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    task: TabularTask
    source: str
    embedded: bool
    splits_note: str = ""


Data = ImageData | TextData | TabularData
