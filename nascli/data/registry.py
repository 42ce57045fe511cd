"""The dataset registry: every `--dataset` kind is one registered entry.

A kind has a name, the task its data feeds (image, language or tabular), a
loader and the options it reads. The built-in kinds (cifar10, ptb, images,
text, csv) register themselves when `nascli.data` is imported; a plugin adds
its own the same way, from any module nascli imports:

    from nascli.data.registry import register_dataset

    @register_dataset("mnist-idx", task="image", options=("image_size",),
                      help="MNIST in its IDX files")
    def load_mnist_idx(folder, spec):   # folder: Path, or None for no --data-dir
        ...                             # spec: the run's DataSpec (seed, fractions, options)
        return ImageData(...)           # an ImageData, TextData or TabularData

The loader gets the `--data-dir` path (None when the user gave none) and the
run's `DataSpec`; it returns one of the records in `nascli.data.base` and raises
`DataError` for bad input. Because workers reload data from the DataSpec, a
loader must depend on nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nascli.errors import DataError

if TYPE_CHECKING:  # the spec imports this module, so only the type checker sees it here
    from nascli.data.spec import DataSpec

TaskKind = Literal["image", "language", "tabular"]
# The DataSpec fields a kind may read besides the seed; `nascli data` and the CLI check them.
OPTIONS = ("valid_fraction", "test_fraction", "image_size", "tokens", "vocab_size", "target")
Loader = Callable[[Path | None, "DataSpec"], Any]


@dataclass(frozen=True)
class DatasetKind:
    """One `--dataset` value: what it loads and which options apply to it."""

    name: str
    task: TaskKind
    load: Loader
    options: tuple[str, ...]
    help: str
    needs_dir: bool  # False when the kind ships an embedded sample used without --data-dir


_KINDS: dict[str, DatasetKind] = {}


def register_dataset(name: str, *, task: TaskKind, help: str, options: tuple[str, ...] = (),
                     needs_dir: bool = True) -> Callable[[Loader], Loader]:
    """Register the decorated loader as dataset kind `name`; a second kind of the same name is an error."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"dataset {name!r}: unknown options {sorted(unknown)}; known: {', '.join(OPTIONS)}")

    def add(loader: Loader) -> Loader:
        if name in _KINDS and _KINDS[name].load is not loader:
            raise DataError(f"dataset kind {name!r} is registered twice")
        _KINDS[name] = DatasetKind(name, task, loader, tuple(options), help, needs_dir)
        return loader

    return add


def dataset_kind(name: str) -> DatasetKind:
    """The registered kind `name`, or a DataError listing the known ones."""
    if name not in _KINDS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(known_datasets())}")
    return _KINDS[name]


def known_datasets() -> tuple[str, ...]:
    """The registered kinds' names, sorted."""
    return tuple(sorted(_KINDS))
