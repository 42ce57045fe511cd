"""Typed records shared by the dataset loaders.

A loader returns one of these immutable records; model builders read only the
`task` (input shape / vocabulary size) and trainers read the tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

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
class ImageData(LabelledSplits):
    """Normalised image splits.

    `*_x` are float32 (N, C, H, W), normalised per channel with `mean`/`std`
    (computed on the training split after the validation holdout). `source`
    says where the data was read from and `embedded` is True for the sample
    shipped inside the package.
    """

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
